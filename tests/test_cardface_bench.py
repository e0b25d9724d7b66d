"""``bench cardface``: per-kind figures against the targets, a log a cut-short run can be summarised from."""
import json
import subprocess
import sys
from pathlib import Path

from mynareader.daemon.cli.cardface_bench import pi_estimate, summarise

EXE = str(Path(sys.executable).with_name("mynareader"))


def card(kind, outcome, cpu=0.5, frames=2):
    return {"kind": kind, "outcome": outcome, "reason": None if outcome != "uncertain" else "not_confirmed",
            "frames": frames, "seconds": cpu, "cpu_seconds": cpu, "gmacs": 10.0, "pi_seconds": [1.0, 2.0],
            "paths": ["card"] * frames}


def test_each_kind_is_held_to_its_own_target():
    results = ([card("good", "exact")] * 19 + [card("good", "uncertain")]                 # 95%: met
               + [card("tilt", "exact")] * 18 + [card("tilt", "uncertain")] * 2           # 90%: missed
               + [card("far", "exact")] * 5 + [card("far", "uncertain")] * 5)             # extreme, 50%: met
    report = summarise(results, extreme=["far"])
    k = report["by_kind"]
    assert (k["good"]["met"], k["tilt"]["met"], k["far"]["met"]) == (True, False, True)
    assert k["far"]["target"] == 0.5 and report["wrong"] == 0
    assert summarise(results + [card("far", "wrong")], extreme=["far"])["wrong"] == 1


def test_the_pi_estimate_scales_network_work_by_its_own_rate():
    macs = {"det": 4e9, "rec": 8e9, "cls": 0.0}
    here = {"det": 8e9, "rec": 16e9, "cls": 8e9}        # 0.5 s + 0.5 s of network here, 0.2 s of the rest
    fast, slow = pi_estimate(1.2, macs, here)
    assert abs(fast - (4 / 4 + 8 / 8 + 0.2 * 3)) < 1e-9 and abs(slow - (4 / 3 + 8 / 6 + 0.2 * 4)) < 1e-9


def test_a_short_run_prints_figures_and_its_log_summarises_the_same(tmp_path):
    log = tmp_path / "cards.jsonl"
    done = subprocess.run([EXE, "bench", "cardface", "--cards", "2", "--kinds", "good,off_frame", "--no-rss",
                           "--json", "--log", str(log)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["wrong"] == 0 and set(report["by_kind"]) == {"good", "off_frame"}
    assert report["exact"] + report["uncertain"] == 2
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 2      # outcomes and times only: no code, no date of the card
    assert all(set(line) == {"kind", "outcome", "reason", "frames", "seconds", "cpu_seconds", "gmacs",
                             "pi_seconds", "paths"} for line in lines)
    again = json.loads(subprocess.run([EXE, "bench", "cardface", "--summarise", str(log), "--json"],
                                      capture_output=True, text=True).stdout)
    assert again["by_kind"] == report["by_kind"]
    bad = subprocess.run([EXE, "bench", "cardface", "--kinds", "sideways"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown degradation" in bad.stderr and "Traceback" not in bad.stderr
