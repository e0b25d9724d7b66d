"""``mynareader bench liveness``: the liveness check against the bench camera's attack and live scenes, reported
in the terms of ISO/IEC 30107-3 (APCER per attack type and the worst, BPCER, non-response, time added).

Each presentation is one face attempt through the daemon's own FaceCheck (random cue and all) against the
holder's chip photo. The bench camera's scene clock runs at 15 fps, so times are the patient's, not this CPU's.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import statistics
import time

from ...device.camera.liveness_scenes import ATTACKS
from ..face.images import load_image
from ..face.pipeline import FacePipeline

GENUINE = ("live",)


async def _present(check, scene: str, seed: int) -> dict:
    check.camera_url = f"bench://holder?seed={seed}"
    check.bench_commands = [f"scene {scene}"]
    verdict, cue, frames_wall = None, None, time.perf_counter()
    async for factory in check.attempt():
        event = factory(dt.datetime.now(dt.timezone.utc))     # an event carries an aware time (messages.py)
        if type(event).__name__ == "FaceGuidance" and event.code.startswith("turn_"):
            cue = event.code
        if type(event).__name__ == "FaceVerdict":
            verdict = event
    scene_seconds = check.camera.frame_time() if check.camera is not None else 0.0
    frames = check.camera.frames if check.camera is not None else 0
    await check.stop()
    live = verdict.liveness if verdict is not None else "none"
    return {"scene": scene, "seed": seed, "cue": cue, "liveness": live, "match": bool(verdict and verdict.match),
            "scene_seconds": round(scene_seconds, 3), "frames": frames,
            "wall_ms_per_frame": round((time.perf_counter() - frames_wall) * 1000 / max(frames, 1), 1)}


def _rate(hits: int, total: int) -> str:
    return f"{100 * hits / total:5.1f}% ({hits}/{total})" if total else "  n/a"


def classify(r: dict) -> str:
    """bona_fide (the check passed), attack (it failed), or no_response (no liveness decision in time)."""
    if r["liveness"] == "passed" or r["liveness"] == "off":
        return "bona_fide"
    if r["liveness"] in ("pending", "none", "failed: timeout"):
        return "no_response"
    return "attack"


async def run(runs: int, scenes: list[str]) -> dict:
    from ..service.face_check import FaceCheck
    from ...device.camera.bench import ASSETS
    results = []
    for liveness in (True, False):
        check = FaceCheck(lambda: FacePipeline(threads=1), "bench://holder", liveness=liveness)
        await check.set_reference(load_image(ASSETS / "holder.png"))
        for scene in (scenes if liveness else GENUINE):
            for seed in range(runs):
                r = await _present(check, scene, seed)
                r["liveness_on"] = liveness
                results.append(r)
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
        "bpnrr": sum(classify(r) == "no_response" for r in genuine) / max(1, len(genuine)),
        "matched": sum(r["match"] for r in genuine),
        "reasons": _count(r["liveness"] for r in genuine)}
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
    print(f"{'attack type':<10} {'scenes':<22} {'APCER':>16} {'APNRR':>8} {'IAPMR':>8}  decided by")
    for kind, a in s["attacks"].items():
        print(f"{kind:<10} {','.join(a['scenes']):<22} {_rate(a['accepted'], a['presentations']):>16} "
              f"{100 * a['apnrr']:7.1f}% {100 * a['iapmr']:7.1f}%  {a['reasons']}")
    if s["worst"]:
        print(f"worst attack type: {s['worst']['attack']} (APCER {100 * s['worst']['apcer']:.1f}%)")
    b = s["bona_fide"]
    print(f"BPCER {_rate(b['rejected'], b['presentations'])}   BPNRR {100 * b['bpnrr']:.1f}%   "
          f"matched {b['matched']}/{b['presentations']}   {b['reasons']}")
    if "time_added_s" in s:
        t = s["time_added_s"]
        print(f"time to a verdict (genuine): {t['with_median']} s with liveness, {t['without_median']} s without: "
              f"added median {t['median']} s, max {t['max']} s")
    if "wall_ms_per_frame" in s:
        w = s["wall_ms_per_frame"]
        print(f"this machine, per frame incl. the bench renderer: {w['with']} ms with liveness, "
              f"{w['without']} ms without")


def cmd_bench_liveness(args) -> int:
    scenes = list(GENUINE) + list(ATTACKS)
    if args.scene:
        scenes = args.scene
    summary = asyncio.run(run(args.runs, scenes))
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print_report(summary)
    return 0


def register(groups) -> None:
    p = groups["bench"].add_parser("liveness", help="APCER per attack, BPCER, non-response and time added by the "
                                   "liveness check, on the bench camera's scenes")
    p.add_argument("--runs", type=int, default=10, help="presentations per scene (default 10)")
    p.add_argument("--scene", action="append", choices=list(GENUINE) + list(ATTACKS),
                   help="only these scenes (repeat); default: all")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench_liveness)
