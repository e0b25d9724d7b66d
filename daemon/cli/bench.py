"""``mynareader bench session``: card present -> result, for the face and PIN paths, and protocol round trips
paced by many concurrent clients, idle and while face receptions run back to back, with the peak memory of the
service and its native worker; ``bench soak``: memory over many receptions. Runs the real service in-process on the
bench devices, or (``--reader pcsc``) the daemon as its own process on pcscd + vpcd + the virtual card; prints
figures."""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ...device.bench_control import send_control
from ..app.inprocess import InProcessReader, demo_config
from ..reception.states import State
from ..rpc.client import Client
from .util import CliFail


def _percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Bench:
    """Where the bench's sockets are: the service's two, and the control socket that inserts and removes the card."""

    def __init__(self, reception: str, kiosk: str, card_control: str):
        self.reception, self.kiosk, self.card_control = reception, kiosk, card_control


def _session(bench: Bench, kiosk: Client, reception: Client, path: str) -> float:
    """One reception; the kiosk follows step.changed events (polling would hit the rate limit)."""
    def wait(step: State) -> None:
        while kiosk.next_event(60, name="step.changed")["params"]["step"] != step:
            pass

    t0 = time.perf_counter()
    send_control(bench.card_control, "insert fresh")
    wait(State.CHOOSE_METHOD)
    kiosk.call("kiosk.choose_method", method=path)
    if path == "pin":
        wait(State.PIN_ENTRY)
        kiosk.call("kiosk.submit_pin", pin="1234")
    wait(State.CONSENT)
    kiosk.call("kiosk.answer", screen="comprehensive", answer="agree")
    reception.next_event(60, name="result")
    elapsed = time.perf_counter() - t0
    send_control(bench.card_control, "remove")
    calls = 4 if path == "pin" else 3
    while kiosk.call("kiosk.current")["state"] != State.IDLE:
        calls += 1
        time.sleep(0.05)
    kiosk.events.clear()
    # a client keeps under the daemon's 50 requests a second per connection (docs/protocol.md): with the bench
    # card built in milliseconds, a PIN reception can take less time than its calls are allowed
    time.sleep(max(0.0, calls / 40 - (time.perf_counter() - t0)))
    return elapsed


def _timings(bench: Bench, runs: int) -> None:
    with Client(bench.reception) as reception, Client(bench.kiosk) as kiosk:
        reception.call("subscribe", events=["result"])
        kiosk.call("subscribe", events=["step.changed"])
        for path in ("face", "pin"):
            times = [_session(bench, kiosk, reception, path) * 1000 for _ in range(runs)]
            print(f"  {path:<5} median {statistics.median(times):7.1f} ms   p90 {_percentile(times, 0.9):7.1f} ms")


def _peak_mib(pid: int | None) -> float:
    """A process's peak resident memory (VmHWM), MiB; 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, TypeError):
        pass
    return 0.0


def _worker_of(pid: int) -> int | None:
    """The daemon's worker process: its child started by multiprocessing's spawn (not the resource tracker)."""
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            try:
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    return child
            except OSError:
                pass
    return None


def _memory(service_pid: int, worker_pid: int | None, note: str) -> str:
    service, worker = _peak_mib(service_pid), _peak_mib(worker_pid)
    # the bench's card-face source tells the code: the worker holds the face models and the liveness mesh, no OCR
    return (f"  peak memory (RSS): service {service:.0f} MiB{note} + worker {worker:.0f} MiB (face models, "
            f"liveness mesh; no OCR with this card-face source) = {service + worker:.0f} MiB")


def cmd_bench_session(args) -> int:
    if args.reader == "pcsc":
        return _session_on_pcscd(args)
    with tempfile.TemporaryDirectory(prefix="mynareader-bench-") as tmp:
        config = demo_config(Path(tmp), profile="empty")
        reader = InProcessReader(config)
        bench = Bench(config.sockets.reception, config.sockets.kiosk, config.bench.control)
        try:
            print(f"card present -> result on the in-process virtual card and bench camera, {args.runs} runs "
                  f"(the kiosk answers at once; a patient adds their own time)")
            _timings(bench, args.runs)
            print(_paced_status(bench, args.clients, args.rate, args.seconds))
            native = reader.service.native
            # the service, the bench card and camera and these clients share this process: an upper bound
            print(_memory(os.getpid(), native.pid if native is not None else None,
                          " (with the bench devices and clients)"))
        finally:
            reader.close()
    return 0


def _session_on_pcscd(args) -> int:
    """The same figures from the daemon as its own process (``mynareader run``) on pcscd + vpcd + the virtual card
    (``mynareader mock card``), as the end-to-end tests run it. Needs pcscd with vsmartcard's vpcd running."""
    exe = str(Path(sys.executable).with_name("mynareader"))
    with tempfile.TemporaryDirectory(prefix="mynareader-bench-") as tmp:
        t = Path(tmp)
        bench = Bench(str(t / "reception.sock"), str(t / "kiosk.sock"), str(t / "card.sock"))
        mock = subprocess.Popen([exe, "mock", "card", "--profile", "empty", "--state", str(t / "card"),
                                 "--control", bench.card_control], stdout=subprocess.PIPE, text=True)
        daemon = None
        try:
            assert mock.stdout is not None
            if "served to vpcd" not in mock.stdout.readline():
                raise CliFail("the virtual card did not start (is pcscd with vsmartcard-vpcd running?)", 1)
            settings = {"devices.reader": "pcsc://?reader=Virtual PCD", "devices.camera": "bench://holder",
                        "devices.cardface": f"control:{bench.card_control}", "state.directory": str(t / "state"),
                        "sockets.reception": bench.reception, "sockets.kiosk": bench.kiosk,
                        "bench.control": str(t / "bench.sock"), "logging.level": "warning"}
            cmd = [exe, "run"] + [a for k, v in settings.items() for a in ("--set", f"{k}={v}")]
            with open(t / "daemon.log", "w") as log:
                daemon = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while not os.path.exists(bench.reception):
                if daemon.poll() is not None or time.monotonic() > deadline:
                    raise CliFail(f"the daemon did not start: {(t / 'daemon.log').read_text()[-2000:]}", 1)
                time.sleep(0.1)
            print(f"card present -> result through pcscd + vpcd (the daemon as its own process), {args.runs} runs")
            try:
                _timings(bench, args.runs)
            except (TimeoutError, OSError) as exc:
                raise CliFail(f"no reception completed through pcscd ({exc or 'timed out'}): is another virtual "
                              f"card holding vpcd? The daemon's log: {(t / 'daemon.log').read_text()[-500:]}", 1)
            print(_paced_status(bench, args.clients, args.rate, args.seconds))
            print(_memory(daemon.pid, _worker_of(daemon.pid), ""))
        finally:
            for proc in (daemon, mock):
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
    return 0


class _Receptions(threading.Thread):
    """Receptions (``path``: face or pin) back to back on the bench card, until stopped: the load the clinic's
    clients share."""

    def __init__(self, bench: Bench, path: str = "pin", limit: int | None = None):
        super().__init__(daemon=True)
        self.bench, self.path, self.limit, self.done = bench, path, limit, 0
        self.rss: list[tuple[int, float]] = []     # (receptions done, resident MiB)
        self.stop_event = threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            with Client(self.bench.reception) as reception, Client(self.bench.kiosk) as kiosk:
                reception.call("subscribe", events=["result"])
                kiosk.call("subscribe", events=["step.changed"])
                while not self.stop_event.is_set() and (self.limit is None or self.done < self.limit):
                    _session(self.bench, kiosk, reception, self.path)
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


def _paced(bench: Bench, clients: int, rate: float, seconds: float) -> tuple[list[float], int]:
    """``clients`` reception clients each asking ``status`` ``rate`` times a second for ``seconds``: sustained
    paced load, not a burst that fits in the rate limiter's allowance. The latencies (ms) and the errors.

    The clients run in a process of their own (one asyncio loop), so what is measured is the service, not these
    clients competing with it for this process's interpreter lock."""
    import multiprocessing
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_paced_child, args=(child, bench.reception, clients, rate, seconds), daemon=True)
    proc.start()
    child.close()
    if not parent.poll(seconds + 120):
        proc.kill()
        raise CliFail("the paced clients did not report", 1)
    latencies, errors = parent.recv()
    proc.join(10)
    return latencies, errors


def _paced_child(conn, path: str, clients: int, rate: float, seconds: float) -> None:
    import asyncio
    import json

    async def client(stop_at: float) -> tuple[list[float], int]:
        reader, writer = await asyncio.open_unix_connection(path)
        mine, errors, rid, next_at = [], 0, 0, time.monotonic()
        while next_at < stop_at:
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
            rid += 1
            t0 = time.perf_counter()
            writer.write(json.dumps({"jsonrpc": "2.0", "id": rid, "method": "status"}).encode() + b"\n")
            while True:     # events are not subscribed to; skip anything that is not this answer
                reply = json.loads(await reader.readline())
                if reply.get("id") == rid:
                    break
            mine.append((time.perf_counter() - t0) * 1000)
            errors += "error" in reply
            next_at += 1.0 / rate
        writer.close()
        return mine, errors

    async def run() -> tuple[list[float], int]:
        stop_at = time.monotonic() + seconds
        results = await asyncio.gather(*(client(stop_at) for _ in range(clients)), return_exceptions=True)
        latencies = [x for r in results if not isinstance(r, BaseException) for x in r[0]]
        return latencies, sum(r[1] if not isinstance(r, BaseException) else 1 for r in results)
    conn.send(asyncio.run(run()))


def _figures(latencies: list[float], errors: int) -> str:
    if not latencies:
        return f"no answers ({errors} errors)"
    return (f"p50 {_percentile(latencies, 0.5):.2f} ms  p99 {_percentile(latencies, 0.99):.2f} ms  "
            f"max {max(latencies):.1f} ms  ({len(latencies)} calls, {errors} errors)")


def _paced_status(bench: Bench, clients: int, rate: float, seconds: float, path: str = "face") -> str:
    """'status' latency under paced clients, idle and then while ``path`` receptions run back to back. The machine's
    load average is printed beside them: other work on the same cores moves these figures."""
    idle = _figures(*_paced(bench, clients, rate, seconds))
    load = _Receptions(bench, path)
    load.start()
    busy = _paced(bench, clients, rate, seconds)
    load.stop_event.set()
    load.join(60)
    failed = f"; the receptions stopped: {load.error}" if load.error else ""
    load1, _, _ = os.getloadavg()
    return (f"'status' under {clients} clients x {rate:g}/s for {seconds:g} s (load average {load1:.1f} on "
            f"{os.cpu_count()} cores)\n"
            f"  idle:                               {idle}\n"
            f"  during {load.done:3d} {path} receptions back to back: {_figures(*busy)}{failed}")


def cmd_bench_soak(args) -> int:
    """Receptions back to back: the resident-memory slope per 1,000 receptions, then paced status latency."""
    with tempfile.TemporaryDirectory(prefix="mynareader-soak-") as tmp:
        config = demo_config(Path(tmp), profile="empty")
        reader = InProcessReader(config)
        bench = Bench(config.sockets.reception, config.sockets.kiosk, config.bench.control)
        try:
            t0 = time.perf_counter()
            load = _Receptions(bench, limit=args.receptions)
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
            print(_paced_status(bench, args.clients, args.rate, args.seconds, path="pin"))
        finally:
            reader.close()
    return 0


def register(groups) -> None:
    p = groups["bench"].add_parser("session", help="card present -> result (face, PIN); protocol round trips")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--reader", choices=("sim", "pcsc"), default="sim",
                   help="sim: the service in this process; pcsc: the daemon as its own process on pcscd + vpcd")
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
