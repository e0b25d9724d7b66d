"""``mynareader bench session``: card present -> result, for the face and PIN paths, and protocol round trips
paced by many concurrent clients while receptions run; ``bench soak``: memory over many receptions. Runs the real
service in-process on the bench devices; prints figures."""
from __future__ import annotations

import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ...device.bench_control import send_control
from ..app.inprocess import InProcessReader, demo_config
from ..reception.states import State
from ..rpc.client import Client


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _session(config, kiosk: Client, reception: Client, path: str) -> float:
    """One reception; the kiosk follows step.changed events (polling would hit the rate limit)."""
    def wait(step: State) -> None:
        while kiosk.next_event(60, name="step.changed")["params"]["step"] != step:
            pass

    t0 = time.perf_counter()
    send_control(config.bench.control, "insert fresh")
    wait(State.CHOOSE_METHOD)
    kiosk.call("kiosk.choose_method", method=path)
    if path == "pin":
        wait(State.PIN_ENTRY)
        kiosk.call("kiosk.submit_pin", pin="1234")
    wait(State.CONSENT)
    kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    reception.next_event(60, name="result")
    elapsed = time.perf_counter() - t0
    send_control(config.bench.control, "remove")
    while kiosk.call("kiosk.current")["state"] != State.IDLE:
        time.sleep(0.05)
    kiosk.events.clear()
    return elapsed


def cmd_bench_session(args) -> int:
    with tempfile.TemporaryDirectory(prefix="mynareader-bench-") as tmp:
        config = demo_config(Path(tmp), profile="empty")
        reader = InProcessReader(config)
        try:
            with Client(config.sockets.reception) as reception, Client(config.sockets.kiosk) as kiosk:
                reception.call("subscribe", events=["result"])
                kiosk.call("subscribe", events=["step.changed"])
                print(f"card present -> result on the in-process virtual card and bench camera, {args.runs} runs "
                      f"(the kiosk answers at once; a patient adds their own time)")
                for path in ("face", "pin"):
                    times = [_session(config, kiosk, reception, path) * 1000 for _ in range(args.runs)]
                    print(f"  {path:<5} median {statistics.median(times):7.1f} ms   p90 {_percentile(times, 0.9):7.1f} ms")
                # the service, bench card and bench camera share this process: an upper bound for the daemon alone
                peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  peak memory (RSS) after the face sessions {peak:.0f} MiB (service + bench devices)")
            print(_paced_status(config, args.clients, args.rate, args.seconds))
        finally:
            reader.close()
    return 0


class _Receptions(threading.Thread):
    """PIN receptions back to back on the bench card, until stopped: the load the clinic's clients share."""

    def __init__(self, config, limit: int | None = None):
        super().__init__(daemon=True)
        self.config, self.limit, self.done = config, limit, 0
        self.rss: list[tuple[int, float]] = []     # (receptions done, resident MiB)
        self.stop_event = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with Client(self.config.sockets.reception) as reception, Client(self.config.sockets.kiosk) as kiosk:
                reception.call("subscribe", events=["result"])
                kiosk.call("subscribe", events=["step.changed"])
                while not self.stop_event.is_set() and (self.limit is None or self.done < self.limit):
                    _session(self.config, kiosk, reception, "pin")
                    reception.events.clear()
                    self.done += 1
                    if self.done % 100 == 0:
                        self.rss.append((self.done, _rss_mib()))
        except Exception as exc:   # reported by the caller
            self.error = exc


def _rss_mib() -> float:
    """Resident memory now (not the peak): what a leak moves."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / (1 << 20)


def _paced_status(config, clients: int, rate: float, seconds: float) -> str:
    """``clients`` reception clients each asking ``status`` ``rate`` times a second for ``seconds``, while PIN
    receptions run: sustained paced load, not a burst that fits in the rate limiter's allowance."""
    latencies: list[float] = []
    lock = threading.Lock()
    errors: list[Exception] = []
    stop_at = time.monotonic() + seconds

    def client() -> None:
        try:
            with Client(config.sockets.reception) as c:
                mine, next_at = [], time.monotonic()
                while next_at < stop_at:
                    time.sleep(max(0.0, next_at - time.monotonic()))
                    t0 = time.perf_counter()
                    c.call("status")
                    mine.append((time.perf_counter() - t0) * 1000)
                    next_at += 1.0 / rate
            with lock:
                latencies.extend(mine)
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)

    load = _Receptions(config)
    load.start()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    load.stop_event.set()
    load.join(60)
    return (f"'status' under {clients} clients x {rate:g}/s for {seconds:g} s during {load.done} PIN receptions: "
            f"p50 {_percentile(latencies, 0.5):.2f} ms  p99 {_percentile(latencies, 0.99):.2f} ms  "
            f"max {max(latencies):.1f} ms  ({len(latencies)} calls, {len(errors)} errors)")


def cmd_bench_soak(args) -> int:
    """Receptions back to back: the resident-memory slope per 1,000 receptions, then paced status latency."""
    with tempfile.TemporaryDirectory(prefix="mynareader-soak-") as tmp:
        config = demo_config(Path(tmp), profile="empty")
        reader = InProcessReader(config)
        try:
            t0 = time.perf_counter()
            load = _Receptions(config, limit=args.receptions)
            load.run()
            if load.error:
                print(f"soak stopped after {load.done} receptions: {load.error}")
                return 1
            wall = time.perf_counter() - t0
            points = load.rss[1:] or load.rss       # the first hundred warm caches up
            if len(points) >= 2:
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                mx, my = statistics.fmean(xs), statistics.fmean(ys)
                slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
                print(f"{load.done} PIN receptions in {wall:.0f} s; resident memory {points[0][1]:.1f} -> "
                      f"{points[-1][1]:.1f} MiB, slope {slope * 1000:+.2f} MiB per 1,000 receptions "
                      f"(service + bench devices in one process)")
            else:
                print(f"{load.done} receptions: too few for a memory slope (use --receptions >= 300)")
            print(_paced_status(config, args.clients, args.rate, args.seconds))
        finally:
            reader.close()
    return 0


def register(groups) -> None:
    p = groups["bench"].add_parser("session", help="card present -> result (face, PIN); protocol round trips")
    p.add_argument("--runs", type=int, default=5)
    _paced_args(p)
    p.set_defaults(func=cmd_bench_session)
    p = groups["bench"].add_parser("soak", help="receptions back to back: memory slope per 1,000, status latency")
    p.add_argument("--receptions", type=int, default=1000)
    _paced_args(p)
    p.set_defaults(func=cmd_bench_soak)


def _paced_args(p) -> None:
    p.add_argument("--clients", type=int, default=50, help="reception clients asking status meanwhile")
    p.add_argument("--rate", type=float, default=10.0, help="status calls per second per client (limit: 50)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long the paced clients run")
