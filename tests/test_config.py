"""Layered configuration with strict validation."""
import pytest

from mynareader.daemon import config
from mynareader.daemon.config import ConfigError


def test_layers_file_then_environment_then_command_line(tmp_path):
    f = tmp_path / "mynareader.toml"
    f.write_text('[devices]\nreader = "pcsc://?reader=ACS"\ncamera = "replay:///frames"\n'
                 '[limits]\nrate_per_second = 10\n[policy]\nface_tries = 2\n')
    c = config.load(str(f), {"MYNAREADER_DEVICES_CAMERA": "v4l2:///dev/video1"}, ["limits.rate_per_second=20"])
    assert c.devices.reader == "pcsc://?reader=ACS"            # file
    assert c.devices.camera == "v4l2:///dev/video1"            # environment over file
    assert c.limits.rate_per_second == 20.0                    # command line over both
    assert c.policy == {"face_tries": 2}
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
