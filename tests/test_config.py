"""Layered configuration with strict validation."""
import pytest

from mynareader.daemon import config
from mynareader.daemon.config import ConfigError


def test_layers_file_then_environment_then_command_line(tmp_path):
    f = tmp_path / "mynareader.toml"
    f.write_text('[devices]\nreader = "pcsc://?reader=ACS"\ncamera = "replay:///frames"\n'
                 '[limits]\nrate_per_second = 10\n[policy]\nface_tries_per_session = 2\n')
    c = config.load(str(f), {"MYNAREADER_DEVICES_CAMERA": "v4l2:///dev/video1"}, ["limits.rate_per_second=20"])
    assert c.devices.reader == "pcsc://?reader=ACS"            # file
    assert c.devices.camera == "v4l2:///dev/video1"            # environment over file
    assert c.limits.rate_per_second == 20.0                    # command line over both
    assert c.policy.face_tries_per_session == 2 and c.policy.liveness is True   # [policy] is a typed section
    assert c.sockets.kiosk == "/run/mynareader/kiosk.sock"     # default


@pytest.mark.parametrize("text,message", [
    ("[device]\nreader='x'\n", "unknown section [device]"),
    ("[devices]\nrreader='x'\n", "unknown key devices.rreader"),
    ("[limits]\nmax_message='big'\n", "limits.max_message"),
    ("[sockets]\nmode='0666'\n", "every local user"),
    ("[devices]\ncardface='ocr'\n", "not one of none, sim, control:PATH or a camera URL .*v4l2://"),
    ("[devices]\ncardface='usb:///dev/video2'\n", "not one of none, sim, control:PATH or a camera URL"),
    ("[devices\n", "not valid TOML"),
])
def test_bad_files_name_the_key_and_what_is_allowed(tmp_path, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        config.load(str(f), {})


@pytest.mark.parametrize("source", ["none", "sim", "control:/run/mock.sock", "v4l2:///dev/video2", "picamera2://1",
                                    "replay:///var/lib/frames", "bench://card"])
def test_card_face_sources_are_camera_urls_or_the_bench_sources(tmp_path, source):
    f = tmp_path / "ok.toml"
    f.write_text(f"[devices]\ncardface = '{source}'\n")
    assert config.load(str(f), {}).devices.cardface == source


def test_missing_given_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(str(tmp_path / "none.toml"), {})


def test_project_variables_that_are_not_config_are_ignored(tmp_path):
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    c = config.load(str(empty), {"MYNAREADER_MOCK_STATE": "/tmp/x", "MYNAREADER_HW_READER": "pcsc://"})
    assert c.devices.reader == "pcsc://"


def test_the_example_file_lists_every_key_with_its_default():
    """systemd/mynareader.toml.example is what a clinic copies: every key the loader knows, policy included, at its
    default, and nothing else."""
    import dataclasses
    import tomllib
    from pathlib import Path
    path = Path(__file__).parent.parent / "systemd" / "mynareader.toml.example"
    example = tomllib.loads(path.read_text(encoding="utf-8"))
    expected = {name: {f.name: f.default for f in dataclasses.fields(cls)} for name, cls in config.SECTIONS.items()}
    assert set(example) == set(expected)
    for section, keys in expected.items():
        assert set(example[section]) == set(keys), section
    assert example["policy"] == expected["policy"]                 # the defaults themselves
    loaded = config.load(str(path), environ={})
    assert loaded.limits == config.Limits() and loaded.policy == config.Policy()


@pytest.mark.parametrize("setting,message", [
    ("policy.face_trys=2", "unknown key policy.face_trys"),
    ("policy.code_b_floor=0", "policy.code_b_floor: 1 to 9"),
    ("policy.liveness=maybe", "policy.liveness"),
])
def test_a_bad_policy_key_is_a_one_line_configuration_error(tmp_path, setting, message):
    import subprocess
    import sys
    from pathlib import Path
    exe = str(Path(sys.executable).with_name("mynareader"))
    out = subprocess.run([exe, "run", "--set", f"state.directory={tmp_path}", "--set", setting],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("mynareader: configuration error:") and message in out.stderr


@pytest.mark.parametrize("setting,message", [
    ({"face_tries_per_session": "2"}, None),
    ({"refuse_last_pin_try": "true"}, None),
    ({"face_trys": 2}, "unknown key policy.face_trys"),
    ({"code_b_floor": "three"}, "policy.code_b_floor .*expected int"),
    ({"max_pin_failures_per_session": 3}, "1 or 2"),
    ({"face_lock_window_hours": 0}, "a positive number"),
])
def test_policy_goes_through_the_same_typed_loader(tmp_path, setting, message):
    """[policy] is one more section: the same coercion from text, the same errors naming the key."""
    environ = {f"MYNAREADER_POLICY_{k.upper()}": str(v) for k, v in setting.items()}
    if message is None:
        policy = config.load(None, environ).policy
        for key, value in setting.items():
            assert str(getattr(policy, key)).lower() == str(value).lower()
    else:
        with pytest.raises(ConfigError, match=message):
            config.load(None, environ)
