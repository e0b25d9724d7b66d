"""The command line's one failure path: every failure is one line on stderr and a documented exit code."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mynareader.daemon.cli import __main__ as cli
from mynareader.daemon.cli import client as client_cli
from mynareader.daemon.cli import util

EXE = str(Path(sys.executable).with_name("mynareader"))
README = Path(__file__).parent.parent / "README.md"


def test_a_bug_is_exit_70_with_no_traceback_unless_asked(monkeypatch, capsys):
    def broken(args):
        return {}["missing"]
    monkeypatch.setattr(client_cli, "cmd_client", broken)
    assert cli.main(["client", "status", "--socket", "/nonexistent"]) == util.INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("mynareader: internal error (KeyError)") and "Traceback" not in err
    assert cli.main(["-v", "client", "status", "--socket", "/nonexistent"]) == util.INTERNAL
    assert "Traceback" in capsys.readouterr().err


def test_lower_layers_errors_become_one_line_and_their_code(tmp_path, capsys):
    # a reader that cannot be reached (device layer), a bad setting (config), a socket nobody serves (OSError)
    assert cli.main(["card", "info", "--reader", "nosuch://x"]) == util.CANNOT
    assert cli.main(["store", "init", "--set", "policy.face_trys=2"]) == util.CANNOT
    assert cli.main(["client", "status", "--socket", str(tmp_path / "none.sock")]) == util.CANNOT
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("mynareader: ") for line in lines)
    assert "configuration error: unknown key policy.face_trys" in lines[1]
    assert "Is the reader running" in lines[2]


def test_json_commands_also_say_the_error_as_json(tmp_path, capsys):
    assert cli.main(["face", "compare", str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg"), "--json"]) == util.NO
    out = capsys.readouterr().out
    assert out.startswith('{"error": ') and "a.jpg" in out


def test_the_exit_codes_in_the_readme_are_the_ones_the_code_uses():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Exit codes"):]
    table = dict(re.findall(r"^\| (\d+) \| `(\w+)` \|", section, re.M))
    code = {str(getattr(util, name)): name for name in dir(util) if name.isupper()}
    assert table == code


@pytest.mark.parametrize("args", [["--help"], ["card", "--help"], ["bench", "--help"]])
def test_help_works_for_every_group(args):
    out = subprocess.run([EXE, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "usage: mynareader" in out.stdout
