"""``mynareader bench liveness``: the liveness check against the bench camera's attack and live scenes, reported
in the terms of ISO/IEC 30107-3 (APCER per attack type with a 95% upper bound, BPCER, non-response, time added).

Each presentation is one face attempt through the daemon's own FaceCheck (random colours, cue and all) against
the holder's chip photo; this command plays the patient screen (it says "shown" for the colours at once, or never
with ``--no-screen``). Each seed draws its own light, camera and person (liveness_scenes.Conditions). The bench
camera's scene clock runs at 15 fps, so times are the patient's, not this CPU's. ``--jobs`` runs seeds in
parallel processes.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import math
import statistics
import time

from ...device.camera.liveness_scenes import ATTACKS
from ..face.images import load_image

GENUINE = ("live",)                  # the holder: bona fide for liveness, and the match and its time
OTHER = ("live-other",)              # a live person who is not the holder: bona fide for liveness only


async def _present(check, scene: str, seed: int, screen: bool = True) -> dict:
    check.camera_url = f"bench://holder?seed={seed}"
    check.bench_commands = [f"scene {scene}"]
    verdict, cue, frames_wall = None, None, time.perf_counter()
    async for factory in check.attempt():
        event = factory(dt.datetime.now(dt.timezone.utc))     # an event carries an aware time (messages.py)
        if type(event).__name__ == "FaceGuidance" and event.code.startswith("turn_"):
            cue = event.code
        if type(event).__name__ == "FaceGuidance" and event.flash is not None and screen:
            check.flash_shown(event.flash["nonce"])          # the patient screen painted the first colour
        if type(event).__name__ == "FaceVerdict":
            verdict = event
    scene_seconds = check.camera.frame_time() if check.camera is not None else 0.0
    frames = check.camera.frames if check.camera is not None else 0
    await check.stop()
    live = verdict.liveness if verdict is not None else "none"
    decision = check.last_decision
    return {"scene": scene, "seed": seed, "cue": cue, "liveness": live, "match": bool(verdict and verdict.match),
            "flash": decision.flash if decision is not None else None,
            "scene_seconds": round(scene_seconds, 3), "frames": frames,
            "wall_ms_per_frame": round((time.perf_counter() - frames_wall) * 1000 / max(frames, 1), 1)}


def _rate(hits: int, total: int) -> str:
    return f"{100 * hits / total:5.1f}% ({hits}/{total})" if total else "  n/a"


def upper95(hits: int, total: int) -> float:
    """The one-sided 95% upper bound of a rate seen as hits/total (Clopper-Pearson; 3/n, the rule of three, at 0)."""
    if total == 0:
        return 1.0
    if hits >= total:
        return 1.0
    lo, hi = hits / total, 1.0
    for _ in range(60):           # bisect P(X <= hits | p) = 0.05
        mid = (lo + hi) / 2
        cdf = sum(math.comb(total, k) * mid ** k * (1 - mid) ** (total - k) for k in range(hits + 1))
        lo, hi = (mid, hi) if cdf > 0.05 else (lo, mid)
    return hi


def classify(r: dict) -> str:
    """bona_fide (the check passed), attack (it failed), or no_response (no liveness decision in time)."""
    if r["liveness"] == "passed" or r["liveness"] == "off":
        return "bona_fide"
    if r["liveness"] in ("pending", "none", "failed: timeout"):
        return "no_response"
    return "attack"


async def _run_part(seeds: list[int], scenes: list[str], screen: bool) -> list[dict]:
    from ..service.face_check import FaceCheck
    from ..worker.inthread import ThreadWorker
    from ..worker.interface import Spec
    from ...device.camera.bench import ASSETS
    results = []
    for liveness in (True, False):
        # the liveness check measured on this thread (--jobs makes processes): the daemon's worker process
        # adds one pipe round trip per frame and changes no decision
        check = FaceCheck(ThreadWorker(Spec(liveness=liveness)), "bench://holder")
        await check.set_reference(load_image(ASSETS / "holder.png"))
        for scene in (scenes if liveness else [s for s in scenes if s in GENUINE]):
            for seed in seeds:
                r = await _present(check, scene, seed, screen)
                r["liveness_on"] = liveness
                results.append(r)
    return results


def _part(args: tuple[list[int], list[str], bool]) -> list[dict]:
    return asyncio.run(_run_part(*args))


def run(runs: int, scenes: list[str], jobs: int = 1, screen: bool = True) -> dict:
    seeds = list(range(runs))
    parts = [(seeds[i::jobs], scenes, screen) for i in range(jobs)]
    if jobs == 1:
        results = _part(parts[0])
    else:
        with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
            results = [r for part in pool.map(_part, parts) for r in part]
    return summarise(results)


def summarise(results: list[dict]) -> dict:
    on = [r for r in results if r["liveness_on"]]
    out: dict = {"attacks": {}, "presentations": results}
    for kind in sorted(set(ATTACKS.values())):
        rs = [r for r in on if ATTACKS.get(r["scene"]) == kind]
        responded = [r for r in rs if classify(r) != "no_response"]
        out["attacks"][kind] = {
            "scenes": sorted({r["scene"] for r in rs}), "presentations": len(rs),
            "apcer": sum(classify(r) == "bona_fide" for r in responded) / max(1, len(responded)),
            "accepted": sum(classify(r) == "bona_fide" for r in responded),
            "apcer_upper95": upper95(sum(classify(r) == "bona_fide" for r in responded), len(responded)),
            "apnrr": sum(classify(r) == "no_response" for r in rs) / max(1, len(rs)),
            "iapmr": sum(r["match"] for r in rs) / max(1, len(rs)),
            "reasons": _count(r["liveness"] for r in rs)}
    genuine = [r for r in on if r["scene"] in GENUINE]
    responded = [r for r in genuine if classify(r) != "no_response"]
    off = [r for r in results if not r["liveness_on"]]
    out["bona_fide"] = {
        "presentations": len(genuine),
        "bpcer": sum(classify(r) == "attack" for r in responded) / max(1, len(responded)),
        "rejected": sum(classify(r) == "attack" for r in responded),
        "bpcer_upper95": upper95(sum(classify(r) == "attack" for r in responded), len(responded)),
        "flash": _count(r.get("flash") for r in genuine),
        "bpnrr": sum(classify(r) == "no_response" for r in genuine) / max(1, len(genuine)),
        "matched": sum(r["match"] for r in genuine),
        "reasons": _count(r["liveness"] for r in genuine)}
    others = [r for r in on if r["scene"] in OTHER]
    if others:
        answered = [r for r in others if classify(r) != "no_response"]
        out["bona_fide_other"] = {
            "presentations": len(others), "rejected": sum(classify(r) == "attack" for r in answered),
            "bpcer_upper95": upper95(sum(classify(r) == "attack" for r in answered), len(answered)),
            "bpnrr": sum(classify(r) == "no_response" for r in others) / len(others),
            "matched": sum(r["match"] for r in others), "reasons": _count(r["liveness"] for r in others)}
    with_live = [r["scene_seconds"] for r in genuine if r["match"]]
    without = [r["scene_seconds"] for r in off if r["match"]]
    if with_live and without:
        out["time_added_s"] = {"median": round(statistics.median(with_live) - statistics.median(without), 2),
                               "max": round(max(with_live) - statistics.median(without), 2),
                               "with_median": round(statistics.median(with_live), 2),
                               "without_median": round(statistics.median(without), 2)}
    walls_on = [r["wall_ms_per_frame"] for r in genuine]
    walls_off = [r["wall_ms_per_frame"] for r in off]
    if walls_on and walls_off:
        out["wall_ms_per_frame"] = {"with": statistics.median(walls_on), "without": statistics.median(walls_off)}
    worst = max(out["attacks"].items(), key=lambda kv: kv[1]["apcer"], default=None)
    out["worst"] = {"attack": worst[0], "apcer": worst[1]["apcer"]} if worst else None
    return out


def _count(values) -> dict:
    out: dict = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def print_report(s: dict) -> None:
    print("Liveness on the bench camera (ISO/IEC 30107-3 terms; scene time at 15 fps)")
    print(f"{'attack type':<13} {'scenes':<22} {'APCER':>16} {'95% upper':>9} {'APNRR':>7} {'IAPMR':>7}  decided by")
    for kind, a in s["attacks"].items():
        print(f"{kind:<13} {','.join(a['scenes']):<22} {_rate(a['accepted'], a['presentations']):>16} "
              f"{100 * a['apcer_upper95']:8.1f}% {100 * a['apnrr']:6.1f}% {100 * a['iapmr']:6.1f}%  {a['reasons']}")
    if s["worst"]:
        print(f"worst attack type: {s['worst']['attack']} (APCER {100 * s['worst']['apcer']:.1f}%)")
    b = s["bona_fide"]
    print(f"BPCER {_rate(b['rejected'], b['presentations'])} (95% upper {100 * b['bpcer_upper95']:.1f}%)   "
          f"BPNRR {100 * b['bpnrr']:.1f}%   matched {b['matched']}/{b['presentations']}   {b['reasons']}   "
          f"colours: {b['flash']}")
    if "bona_fide_other" in s:
        o = s["bona_fide_other"]
        print(f"live person not the holder: liveness BPCER {_rate(o['rejected'], o['presentations'])} "
              f"(95% upper {100 * o['bpcer_upper95']:.1f}%)   BPNRR {100 * o['bpnrr']:.1f}%   "
              f"matched {o['matched']}/{o['presentations']} (the match's job)   {o['reasons']}")
    if "time_added_s" in s:
        t = s["time_added_s"]
        print(f"time to a verdict (genuine): {t['with_median']} s with liveness, {t['without_median']} s without: "
              f"added median {t['median']} s, max {t['max']} s")
    if "wall_ms_per_frame" in s:
        w = s["wall_ms_per_frame"]
        print(f"this machine, per frame incl. the bench renderer: {w['with']} ms with liveness, "
              f"{w['without']} ms without")


def cmd_bench_liveness(args) -> int:
    scenes = list(GENUINE) + list(OTHER) + list(ATTACKS)
    if args.scene:
        scenes = args.scene
    summary = run(args.runs, scenes, max(1, args.jobs), not args.no_screen)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(summary)
    return 0


def register(groups) -> None:
    p = groups["bench"].add_parser("liveness", help="APCER per attack, BPCER, non-response and time added by the "
                                   "liveness check, on the bench camera's scenes")
    p.add_argument("--runs", type=int, default=10, help="presentations per scene (default 10)")
    p.add_argument("--scene", action="append", choices=list(GENUINE) + list(OTHER) + list(ATTACKS),
                   help="only these scenes (repeat); default: all")
    p.add_argument("--jobs", type=int, default=1, help="processes to share the seeds (default 1)")
    p.add_argument("--no-screen", action="store_true",
                   help="a patient screen that cannot show the colours: the fallback checks alone")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_liveness)
