"""``mynareader bench session``: card present -> result, for the face and PIN paths, and protocol round trips
with many concurrent clients. Runs the real service in-process on the bench devices; prints figures."""
from __future__ import annotations

import resource
import statistics
import tempfile
import threading
import time
from pathlib import Path

from ..device.mock.control import send_control
from .inprocess import InProcessReader, demo_config
from .rpc.client import Client


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def _session(config, kiosk: Client, reception: Client, path: str) -> float:
    """One reception; the kiosk follows step.changed events (polling would hit the rate limit)."""
    def wait(step: str) -> None:
        while kiosk.next_event(60, name="step.changed")["params"]["step"] != step:
            pass

    t0 = time.perf_counter()
    send_control(config.bench.control, "insert fresh")
    wait("choose_method")
    kiosk.call("kiosk.choose_method", method=path)
    if path == "pin":
        wait("pin_entry")
        kiosk.call("kiosk.submit_pin", pin="1234")
    wait("consent")
    kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    reception.next_event(60, name="result")
    elapsed = time.perf_counter() - t0
    send_control(config.bench.control, "remove")
    while kiosk.call("kiosk.current")["state"] != "idle":
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
            latencies: list[float] = []
            lock = threading.Lock()
            errors: list[Exception] = []

            def client(n: int) -> None:
                try:
                    with Client(config.sockets.reception) as c:
                        mine = []
                        for _ in range(n):
                            t0 = time.perf_counter()
                            c.call("status")
                            mine.append((time.perf_counter() - t0) * 1000)
                    with lock:
                        latencies.extend(mine)
                except Exception as exc:  # reported below, not swallowed
                    errors.append(exc)

            threads = [threading.Thread(target=client, args=(args.calls,)) for _ in range(args.clients)]
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            print(f"protocol round trip ('status'), {args.clients} concurrent clients x {args.calls} calls: "
                  f"p50 {_percentile(latencies, 0.5):.2f} ms  p99 {_percentile(latencies, 0.99):.2f} ms  "
                  f"({len(latencies) / wall:.0f} calls/s, {len(errors)} errors)")
        finally:
            reader.close()
    return 0


def register(groups) -> None:
    p = groups["bench"].add_parser("session", help="card present -> result (face, PIN); protocol round trips")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--calls", type=int, default=40, help="calls per client (kept under the per-connection rate limit burst)")
    p.set_defaults(func=cmd_bench_session)
