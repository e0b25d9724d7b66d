"""Every script under models/ still imports and prints its --help in the project's own environment (the tools it
runs with - TensorFlow, dlib, onnx - are imported only when it works, never at import), so a script whose imports
rot is found here rather than by the next person who needs it."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parent.parent / "models"
SCRIPTS = sorted(p for p in MODELS.glob("*.py") if p.name != "__init__.py")


def test_there_are_scripts_to_check():
    names = {p.name for p in SCRIPTS}
    assert {"devset.py", "dlib_evaluate.py", "faceplugin_convert.py", "convert.py", "opcount.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_imports(script, monkeypatch):
    monkeypatch.syspath_prepend(str(MODELS))        # as when run from models/: sibling imports (convert, ...)
    spec = importlib.util.spec_from_file_location(f"models_script_{script.stem}", script)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)     # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    assert callable(getattr(module, "main", None)), f"{script.name} has no main()"
    assert module.__doc__ and len(module.__doc__.strip()) > 40, f"{script.name} says nothing about itself"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_script_prints_its_help(script):
    out = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60,
                         cwd=MODELS.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: {script.name}") and "-h, --help" in out.stdout
    assert "Traceback" not in out.stderr
