"""The image recipe read without building it (fast, no root): every profile complete, one partition layout named
the same in genimage, fstab and the docs, the test-only units never reachable from the recipe, scripts that parse.
The image itself is booted by tests/test_image.py (make image-test)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

IMAGE = Path(__file__).resolve().parent.parent / "image"
REQUIRED = ("ARCH", "COMPONENTS", "PROFILE_PACKAGES", "INITRAMFS_MODULES", "CONSOLE", "CAMERA", "BOOT")
PROFILES = sorted(p.stem for p in (IMAGE / "profiles").glob("*.conf"))


def test_the_documented_profiles_exist():
    assert PROFILES == ["qemu-amd64", "qemu-arm64", "rpi4", "rpi5"]


@pytest.mark.parametrize("profile", PROFILES)
def test_each_profile_sets_what_the_recipe_reads(profile):
    script = f". {IMAGE / 'profiles' / (profile + '.conf')}; " + "; ".join(f'echo "{v}=${v}"' for v in REQUIRED)
    values = dict(line.split("=", 1) for line in
                  subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines())
    missing = [v for v in REQUIRED if not values.get(v)]
    assert not missing, f"{profile} does not set {missing}"
    assert values["BOOT"] in ("qemu", "rpi") and values["ARCH"] in ("amd64", "arm64")
    assert "main" in values["COMPONENTS"].split() and "contrib" in values["COMPONENTS"].split()  # the voice


def test_one_partition_layout_everywhere():
    genimage = re.findall(r"^\s*partition (\w+) \{", (IMAGE / "genimage" / "reader.cfg").read_text(), re.M)
    assert genimage == ["config", "boot_a", "boot_b", "system_a", "system_b", "data"]
    fstab = set(re.findall(r"PARTLABEL=(\w+)", (IMAGE / "layers" / "base" / "hook.sh").read_text()))
    assert fstab == {"config", "boot_a", "system_a", "data"}          # slot A's own, and the shared ones
    docs = re.findall(r"^\| \d \| `(\w+)` \|", (IMAGE.parent / "docs" / "image.md").read_text(), re.M)
    assert docs == genimage


def test_the_test_units_are_never_part_of_an_image():
    recipe = [*IMAGE.glob("layers/*/*"), *IMAGE.rglob("files/**/*"), *IMAGE.glob("hooks/*"), *IMAGE.glob("*.sh")]
    for path in (p for p in recipe if p.is_file()):
        assert "image/test" not in path.read_text(), f"{path} reaches the test-only units"
    bench = (IMAGE / "test" / "units" / "mynareader.service.d" / "bench.conf").read_text()
    assert "sim://" in bench                                            # the bench devices live only there
    for path in IMAGE.glob("layers/*/*"):
        assert "sim://" not in path.read_text() and "bench://" not in path.read_text()


def test_the_scripts_parse():
    scripts = [IMAGE / "build.sh", *IMAGE.glob("layers/*/hook.sh"), *IMAGE.glob("hooks/*.sh")]
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
    for script in [IMAGE / "files" / "firstboot.sh", IMAGE / "files" / "mynareader-test-generator",
                   IMAGE / "test" / "units" / "check.sh"]:
        subprocess.run(["sh", "-n", str(script)], check=True)
