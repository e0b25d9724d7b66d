"""What a normal (non-editable) install would carry: every package folder listed in pyproject.toml."""
import tomllib
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_every_package_folder_is_listed_for_setuptools():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"mynareader." + ".".join(p.parent.relative_to(ROOT).parts)
             for top in ("daemon", "device", "models") for p in (ROOT / top).rglob("__init__.py")}
    assert found == listed


def test_every_model_file_the_manifest_names_is_package_data():
    """A wheel carries models/ only through package-data globs: a model file no glob matches (dlib's landmarks
    .npz once) would be missing from a normal install, and the daemon would refuse to start the face check."""
    import fnmatch
    import json
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "mynareader.models"]
    files = {m["file"] for m in json.loads((ROOT / "models" / "manifest.json").read_text())["models"].values()}
    assert files and all(any(fnmatch.fnmatch(f, g) for g in globs) for f in files), (files, globs)
