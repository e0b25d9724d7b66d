import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the bench helpers beside the tests

from helpers.bench_devices import BACKENDS  # noqa: E402
from helpers.pcscd import Pcscd  # noqa: E402


@pytest.fixture(scope="session")
def pcscd():
    """The real pcscd with the vpcd reader, started for the session when not already running."""
    service = Pcscd()
    service.start()
    yield service
    service.stop()


@pytest.fixture(params=sorted(BACKENDS))
def bench(request, tmp_path):
    """A factory: bench(profile) starts a virtual card on this backend and returns a Bench."""
    name = request.param
    if name == "pcsc":
        request.getfixturevalue("pcscd")
    stack = []

    def start(profile: str = "fresh", state_dir: Path | None = None):
        cm = BACKENDS[name](profile, state_dir or tmp_path / "card")
        stack.append(cm)
        return cm.__enter__()

    yield start
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "card"


def pytest_collection_modifyitems(config, items):
    # marker -> (the variable that turns its tests on, why they are off without it)
    gated = {"hardware": ("MYNAREADER_HW_READER", "needs real hardware: set MYNAREADER_HW_READER=URL"),
             "image": ("MYNAREADER_IMAGE", "boots the reader image: make image-test (MYNAREADER_IMAGE=build dir)")}
    for marker, (variable, reason) in gated.items():
        if os.environ.get(variable):
            continue
        for item in items:
            if marker in item.keywords:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def reader(tmp_path):
    """The service in-process on the bench devices with no card yet; yields its configuration (socket paths)."""
    from mynareader.daemon.app.inprocess import InProcessReader, demo_config
    config = demo_config(tmp_path, profile="empty")
    r = InProcessReader(config)
    yield config
    r.close()
