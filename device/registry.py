"""One opener for every device URL: card readers, cameras and card-face sources (pyserial's ``serial_for_url``,
python-can's ``BACKENDS``).

One table per kind maps a URL scheme to the ``"module:factory"`` that opens it. Nothing is imported until a URL
of that scheme is opened, so a reader without a camera never loads OpenCV, and the bench devices (the modules
under ``device/mock/``) are only ever loaded by name, when a bench URL asks for them. A missing package is one
error, :class:`~.errors.BackendUnavailable`, naming what to install. The scheme lists in ``mynareader --help``,
in the configuration's messages and in docs/card.md ("Device URLs", checked by a test) all come from here.

A new backend is one row here and one module with a ``from_url(url)`` class method (or any callable taking the
URL and the keyword context of :func:`open_device`).
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from .errors import BackendUnavailable, BadDeviceUrl


@dataclasses.dataclass(frozen=True)
class Backend:
    target: str        # "module:attribute[.attribute]", imported on first use
    package: str       # what a user installs when the import fails
    example: str       # how a URL of this scheme is written
    summary: str       # one line for --help and the docs


READERS: dict[str, Backend] = {
    "pcsc": Backend("mynareader.device.pcsc:PcscTransport.from_url", "pyscard", "pcsc://?reader=NAME",
                    "a PC/SC reader through pcscd: the first holding a card, or the one whose name contains NAME"),
    "pn532": Backend("mynareader.device.pn532:Pn532Transport.from_url", "pyserial", "pn532:///dev/ttyAMA0",
                     "a PN532 NFC module on a UART (pn532+socket://host:port: any pyserial URL underneath)"),
    "sim": Backend("mynareader.device.mock.sim:SimTransport.from_url", "cryptography", "sim://PROFILE?state=DIR",
                   "the virtual My Number Card in-process (bench, demo, tests; profiles: mynareader mock card -h)"),
}

CAMERAS: dict[str, Backend] = {
    "v4l2": Backend("mynareader.device.camera.v4l2:V4l2Camera.from_url", "opencv-python-headless",
                    "v4l2:///dev/video0", "a USB/V4L2 camera through OpenCV"),
    "picamera2": Backend("mynareader.device.camera.picam:Picamera2Camera.from_url",
                         "picamera2 (on Raspberry Pi OS: apt install python3-picamera2)", "picamera2://0",
                         "the Raspberry Pi camera"),
    "replay": Backend("mynareader.device.camera.replay:ReplayCamera.from_url", "pillow", "replay://DIR?fps=N",
                      "recorded frames from a folder, in name order, looping"),
    "bench": Backend("mynareader.device.camera.bench:BenchCamera.from_url", "pillow", "bench://holder",
                     "a steerable synthetic scene (bench://card: the card tray showing the virtual card's face)"),
}

# Where 照合番号B comes from besides a camera read by OCR (any CAMERAS URL is a card-face source too).
CARDFACES: dict[str, Backend] = {
    "none": Backend("", "", "none", "no card-face source: face authentication is not offered"),
    "sim": Backend("mynareader.device.mock.sim:SimCardFace", "cryptography", "sim",
                   "the virtual card on the sim:// reader tells its code (bench shortcut, no OCR)"),
    "control": Backend("mynareader.device.bench_control:ControlCardFace", "", "control:PATH",
                       "a bench mock's control socket tells the code of the card it holds (no OCR)"),
}

KINDS: dict[str, dict[str, Backend]] = {"reader": READERS, "camera": CAMERAS, "cardface": CARDFACES}

# prefixes that wrap a device of the same kind, hiding nothing of it: spy+pcsc://
WRAPPERS: dict[str, dict[str, Backend]] = {
    "reader": {"spy": Backend("mynareader.device.transport:SpyTransport", "", "spy+URL",
                              "any reader URL, logging each APDU with VERIFY data redacted (-vv)")},
}


def scheme_of(url: str) -> str:
    """The backend scheme of a URL: ``pn532+socket://h:p`` -> pn532, ``control:/run/x`` -> control, ``sim`` -> sim."""
    head = url.split(":", 1)[0] if ":" in url else url
    return head.split("+", 1)[0].lower()


def _wrapper(kind: str, url: str) -> tuple[Backend, str] | None:
    for prefix, backend in WRAPPERS.get(kind, {}).items():
        if url.startswith(prefix + "+"):
            return backend, url[len(prefix) + 1:]
    return None


def schemes(kind: str) -> list[str]:
    """The schemes a URL of ``kind`` may use, in table order (a card-face source may also be any camera URL)."""
    names = list(_table(kind))
    return names + list(CAMERAS) if kind == "cardface" else names


def _table(kind: str) -> dict[str, Backend]:
    if kind not in KINDS:
        raise ValueError(f"unknown device kind {kind!r}")
    return KINDS[kind]


def url_problem(kind: str, url: str) -> str | None:
    """None when ``url`` names a known backend of ``kind``, else what is wrong. Imports nothing."""
    wrapped = _wrapper(kind, url)
    if wrapped:
        return url_problem(kind, wrapped[1])
    scheme, table = scheme_of(url), _table(kind)
    if kind == "cardface" and scheme in CAMERAS and "://" in url:
        return None
    if kind == "cardface" and scheme in ("none", "sim") and url == scheme:
        return None
    if kind == "cardface" and scheme == "control" and len(url) > len("control:"):
        return None
    if kind != "cardface" and scheme in table and "://" in url:
        return None
    return f"{url!r} is not one of {forms(kind)}"


def forms(kind: str) -> str:
    """The forms a URL of ``kind`` may take, for messages: "pcsc://, pn532://, sim:// (or spy+ any of them)"."""
    if kind == "cardface":
        return (", ".join(b.example for b in CARDFACES.values()) + " or a camera URL ("
                + ", ".join(s + "://" for s in CAMERAS) + ")")
    text = ", ".join(s + "://" for s in _table(kind))
    for prefix in WRAPPERS.get(kind, {}):
        text += f" (or {prefix}+ any of them)"
    return text


def examples(kind: str) -> list[str]:
    rows = [b.example for b in _table(kind).values()]
    if kind == "cardface":
        rows += [b.example for b in CAMERAS.values()]
    return rows + [b.example for b in WRAPPERS.get(kind, {}).values()]


def describe(kind: str, indent: str = "  ", width: int = 26) -> str:
    """The URL forms of ``kind``, one per line with its summary: for --help texts."""
    rows = [(b.example, b.summary) for b in [*_table(kind).values(), *WRAPPERS.get(kind, {}).values()]]
    if kind == "cardface":
        rows.append(("CAMERA URL", "a camera looking at the card on the tray, read by OCR: "
                     + ", ".join(s + "://" for s in CAMERAS)))
    return "\n".join(f"{indent}{example:<{width}}{summary}" for example, summary in rows)


def load(target: str) -> Any:
    """Import ``"module:attr.attr"`` and return the attribute (ImportError when the module is missing)."""
    module, _, attrs = target.partition(":")
    obj: Any = importlib.import_module(module)
    for name in attrs.split("."):
        obj = getattr(obj, name)
    return obj


def open_device(kind: str, url: str, **context: Any) -> Any:
    """Open the device ``url`` names: a reader (Transport), a camera (Camera) or a bench card-face source.

    ``context`` goes to the factory (a card-face source gets the reader's transport). Raises BadDeviceUrl or
    BackendUnavailable; whatever the backend raises while opening (ReaderUnavailable, CameraGone, ...) passes.
    """
    wrapped = _wrapper(kind, url)
    if wrapped:
        backend, inner = wrapped
        return load(backend.target)(open_device(kind, inner, **context))
    problem = url_problem(kind, url)
    if problem:
        raise BadDeviceUrl(f"unknown {kind} URL scheme {scheme_of(url)!r} in {url!r}; use one of {forms(kind)}")
    scheme = scheme_of(url)
    if kind == "cardface" and scheme in CAMERAS:
        kind = "camera"
    backend = _table(kind)[scheme]
    if not backend.target:
        raise BadDeviceUrl(f"{url!r} opens no device")
    try:
        device = load(backend.target)(url, **context)
    except ImportError as exc:
        raise BackendUnavailable(scheme, backend.package or "mynareader", str(exc)) from None
    try:
        device.url = url
    except AttributeError:
        pass
    return device


def open_reader(url: str):
    return open_device("reader", url)


def open_camera(url: str):
    return open_device("camera", url)


def open_cardface(spec: str, transport=None):
    return open_device("cardface", spec, transport=transport)
