"""Fleet metrics in the Prometheus text format: what happened and how long it took, never who.

Counted from the events the service already sends its clients (sessions ended, faults, steps that refused a try)
and from the time each device operation took. Label values come only from closed sets written here (outcomes,
abort reasons, identity methods, operation names); anything else is counted as "other", so nothing a card, a
patient or a client supplies can reach the text: no PIN, code, name, photo, card serial or session id.

The text is written atomically for node-exporter's textfile collector (``[metrics] textfile``) and answered by
the ``metrics`` method (reception role, also over the TLS listener).
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)

BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)     # seconds: a card APDU to a whole face check

OUTCOMES = ("completed", "aborted")
REASONS = ("completed", "card_removed", "idle_timeout", "cancelled_by_staff", "cancelled_by_patient",
           "certificate_expired", "unsupported_card", "card_error", "store_unavailable", "declined",
           "registration_needs_pin", "phone_locked", "pin_blocked", "pin_stopped", "registration_not_here")
METHODS = ("pin", "face", "visual", "device_unlock", "none")
# steps at which the reader refused (or stopped offering) a try, so that a card is not locked by its mistake
REFUSALS = ("pin_to_staff", "pin_blocked", "face_locked", "face_failed", "pin_last_try", "phone_pin_blocked",
            "phone_pin_stop")
OPERATIONS = ("ReadCard", "ReadFacePhoto", "QueryPinTries", "VerifyPin", "SignChallenge", "RequestCodeB",
              "VerifyCodeB", "face_check")
FAULTS = ("reader", "store")
SLOTS = ("A", "B", "none")
# the A/B image's update record (image/files/update/rauc-bootloader and health write it; docs/image.md): its
# ``result=`` line says how the last update ended
UPDATE_RECORD = "/data/mynareader-update"


def _closed(value: object, allowed: Iterable[str]) -> str:
    return value if isinstance(value, str) and value in allowed else "other"


@dataclasses.dataclass
class Histogram:
    counts: list[int] = dataclasses.field(default_factory=lambda: [0] * len(BUCKETS))
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.n += 1


class Metrics:
    def __init__(self, version: str, slot: str, rolled_back: Callable[[], bool] = lambda: False):
        self.info = {"version": version, "slot": _closed(slot, SLOTS)}
        self._rolled_back = rolled_back
        self.receptions: dict[tuple[str, str], int] = {}
        self.methods: dict[str, int] = {}
        self.refusals: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        self.staff_called = 0
        self.timings: dict[str, Histogram] = {}

    # -- what is observed ------------------------------------------------------------------------------
    def event(self, name: str, params: dict) -> None:
        """An event as broadcast to clients (rpc.broadcast); only its closed-set fields are looked at."""
        if name in ("session.ended", "session.aborted"):
            key = (_closed(params.get("outcome"), OUTCOMES), _closed(params.get("reason"), REASONS))
            self.receptions[key] = self.receptions.get(key, 0) + 1
        elif name == "result":
            identity = params.get("identity")
            method = _closed(identity.get("method") if isinstance(identity, dict) else None, METHODS)
            self.methods[method] = self.methods.get(method, 0) + 1
        elif name == "step.changed" and params.get("message") in REFUSALS:
            why = params["message"]
            self.refusals[why] = self.refusals.get(why, 0) + 1
        elif name == "reader.fault":
            self.fault("reader")
        elif name == "staff.called":
            self.staff_called += 1

    def fault(self, kind: str) -> None:
        kind = _closed(kind, FAULTS)
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def timed(self, operation: str, seconds: float) -> None:
        self.timings.setdefault(_closed(operation, OPERATIONS), Histogram()).observe(seconds)

    # -- the text ----------------------------------------------------------------------------------------
    def render(self, store_ok: bool) -> str:
        """The text; ``store_ok`` is asked of the service at each rendering, not remembered."""
        out: list[str] = []

        def family(name: str, kind: str, help_: str) -> None:
            out.append(f"# HELP mynareader_{name} {help_}")
            out.append(f"# TYPE mynareader_{name} {kind}")

        family("info", "gauge", "The running release and the A/B slot it booted from.")
        out.append(f"mynareader_info{_labels(self.info)} 1")
        family("receptions_total", "counter", "Sessions by how they ended.")
        for (outcome, reason), n in sorted(self.receptions.items()):
            out.append(f"mynareader_receptions_total{_labels({'outcome': outcome, 'reason': reason})} {n}")
        family("identity_total", "counter", "Completed identity checks by method.")
        for method, n in sorted(self.methods.items()):
            out.append(f"mynareader_identity_total{_labels({'method': method})} {n}")
        family("tries_refused_total", "counter", "Steps at which the reader refused or stopped offering a try.")
        for why, n in sorted(self.refusals.items()):
            out.append(f"mynareader_tries_refused_total{_labels({'step': why})} {n}")
        family("faults_total", "counter", "Device and store faults.")
        for kind, n in sorted(self.faults.items()):
            out.append(f"mynareader_faults_total{_labels({'kind': kind})} {n}")
        family("staff_called_total", "counter", "Times a patient called staff from the screen.")
        out.append(f"mynareader_staff_called_total {self.staff_called}")
        family("store_ok", "gauge", "1 when the state store can be read and written, else 0.")
        out.append(f"mynareader_store_ok {int(store_ok)}")
        family("update_rolled_back", "gauge",
               "1 when the last update never became healthy and the reader came back to its previous slot.")
        out.append(f"mynareader_update_rolled_back {int(self._rolled_back())}")
        family("operation_seconds", "histogram", "Time of each card, card-face and face operation.")
        for op, h in sorted(self.timings.items()):
            for bound, count in zip(BUCKETS, h.counts):
                out.append(f"mynareader_operation_seconds_bucket{_labels({'operation': op, 'le': f'{bound:g}'})} "
                           f"{count}")
            out.append(f"mynareader_operation_seconds_bucket{_labels({'operation': op, 'le': '+Inf'})} {h.n}")
            out.append(f"mynareader_operation_seconds_sum{_labels({'operation': op})} {h.total:.6f}")
            out.append(f"mynareader_operation_seconds_count{_labels({'operation': op})} {h.n}")
        return "\n".join(out) + "\n"


def _labels(labels: dict[str, str]) -> str:
    def escape(v: str) -> str:
        return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return "{" + ",".join(f'{k}="{escape(v)}"' for k, v in labels.items()) + "}"


def write_textfile(path: str, text: str) -> None:
    """Atomically, as node-exporter's textfile collector expects (it may read at any moment)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, target)


def booted_slot(cmdline: str = "/proc/cmdline") -> str:
    """The A/B slot booted: ``MYNAREADER_SLOT`` (the image's drop-in sets it: the reader's sandbox hides
    /proc/cmdline), else ``rauc.slot=`` on the kernel command line, else "none" off an A/B image."""
    if os.environ.get("MYNAREADER_SLOT"):
        return os.environ["MYNAREADER_SLOT"]
    try:
        words = Path(cmdline).read_text().split()
    except OSError:
        return "none"
    return next((w.split("=", 1)[1] for w in words if w.startswith("rauc.slot=")), "none")


def update_rolled_back(record: str = UPDATE_RECORD) -> bool:
    """Whether the update record says the last update was rolled back (no record: no A/B image, or no update)."""
    try:
        lines = Path(record).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return False
    results = [line.split("=", 1)[1] for line in lines if line.startswith("result=")]
    return bool(results) and results[-1] == "rolled_back"


def release() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("mynareader")
    except PackageNotFoundError:
        return "unknown"


async def publish(metrics: Metrics, path: str, interval: float, store_ok: Callable[[], bool]) -> None:
    """Rewrite the textfile every ``interval`` seconds; a disk that refuses says so once, then keeps trying."""
    failing = False
    while True:
        try:
            await asyncio.get_running_loop().run_in_executor(None, write_textfile, path, metrics.render(store_ok()))
            failing = False
        except OSError as exc:
            if not failing:
                log.warning("the metrics file %s cannot be written: %s", path, exc.strerror or exc,
                            extra={"EVENT": "metrics_unwritten"})
            failing = True
        await asyncio.sleep(interval)
