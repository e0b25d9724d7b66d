"""What a normal (non-editable) install would carry: every package folder listed in pyproject.toml."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_package_folder_is_listed_for_setuptools():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"mynareader." + ".".join(p.parent.relative_to(ROOT).parts)
             for top in ("daemon", "device", "models") for p in (ROOT / top).rglob("__init__.py")}
    assert found == listed
