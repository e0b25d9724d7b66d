"""The screen lights the face: a short random colour sequence the skin must reflect, in time. Pure numpy.

Why it stops a recording: light reflected by a surface is the surface's colour *times* the light falling on it,
so a face (or a print) in front of the screen changes colour with each step of this attempt's draw, within a
camera's latency. A phone or monitor showing a recording emits its own light: its face carries the lighting of the
moment it was recorded, and the kiosk's light only *adds* a faint reflection on the glass, the same on dark and
bright parts of the face. Three tests follow from that:

- timing: the face's colour must follow this attempt's sequence at a lag of 0..``lag_max`` s from when the screen
  said it painted the first colour, better than it follows any other draw, whether that draw is fitted at the
  same lag or at its own (a player paints its guess when it sees the screen change; a guess of the draw is right
  1 time in 5 x 4^(steps-1): 1,280 for 5 steps);
- one light: no other draw may explain much on top of this one. A player painting its guess on a device whose
  glass mirrors the kiosk shows two lights, the real draw (added by the glass) and the guess (painted): with the
  guess right in most steps the real draw still fits best, and the guess is what is left over;
- reflection: across patches of the face, the response must scale with the patch's own brightness (reflected
  light is multiplied by the surface); light added on top of an emitting screen gives the dark patches (brows,
  lips, hair) the same response as the bright ones.

A print or a paper mask reflects like skin and passes this check: the turn and the 3D test stop those
(liveness.py). Camera exposure and white balance must be held during the sequence (docs/face.md).

Colours change at most five times a second (2.5 flashes, a flash being a pair of opposing changes) and none is
saturated red: below the WCAG 2.3.1 three-flashes threshold. The sequence runs while the patient faces the
screen, before the turn cue: a turning head changes what each patch sees more than the screen's light does.
"""
from __future__ import annotations

import dataclasses
import secrets

import numpy as np

# the screen's colours (sRGB 0..255) and their names; the draw never repeats a colour twice in a row
PALETTE = {"blue": (70, 110, 255), "yellow": (235, 215, 60), "green": (60, 210, 100), "magenta": (225, 80, 220),
           "white": (235, 235, 235)}
# mesh points whose neighbourhoods are sampled: skin (forehead, cheeks, nose, chin, jaw) and darker parts (brows,
# lips, nostrils); the eyes are left out (a blink would look like a colour change)
PATCHES = (10, 151, 9, 108, 337, 50, 280, 205, 425, 117, 346, 123, 352, 1, 4, 195, 5, 152, 199, 175,
           63, 105, 66, 293, 334, 296, 0, 13, 14, 17, 61, 291, 98, 327, 2)


def palette() -> np.ndarray:
    """Every colour the scheme may draw (n x 3, 0..1): what a scheme-aware attacker knows."""
    return np.asarray(list(PALETTE.values()), dtype=np.float64) / 255.0


@dataclasses.dataclass(frozen=True)
class FlashSettings:
    steps: int = 5                  # colours in one draw: 5 x 4^4 = 1,280 draws
    step: float = 0.2               # seconds each colour stays on the screen (2.5 flashes a second at most)
    lag_max: float = 0.25           # camera and display latency allowed after the screen's "shown" (s)
    shown_within: float = 0.5       # seconds for the screen to say it painted the first colour, else no flash
    min_response: float = 0.012     # smallest reflected change (log units per unit of screen light) that counts
    min_fit: float = 0.3            # the share of the face's colour changes that this draw explains (R^2)
    min_slope: float = -0.7         # log response on log brightness over the patches: ~0 reflected, ~-1 added
                                    # (glasses mirror the screen a little: down to -0.69 seen on live faces; a
                                    # device's glass mirror over a bright part of the face: -0.74 seen)
    margin: float = 0.03            # another draw must explain the face by more than this to out-rank this one
    lag_margin: float = 0.05        # ... or by more than this at a lag of its own (a draw that fits at a lag
                                    # near this one's gains a little from the freedom: up to 0.032 on live faces)
    max_second: float = 0.09        # the most another draw may explain on top of this one (_second_light):
                                    # live faces up to 0.067 over 200, a painted guess over a mirroring glass 0.12+


@dataclasses.dataclass(frozen=True)
class Flash:
    """One draw: what the screen must show."""
    colours: tuple[str, ...]
    step: float
    nonce: str

    def rgb(self) -> np.ndarray:
        return np.asarray([PALETTE[c] for c in self.colours], dtype=np.float64) / 255.0

    def duration(self) -> float:
        return self.step * len(self.colours)

    def wire(self) -> dict:
        return {"colours": ["#%02x%02x%02x" % PALETTE[c] for c in self.colours], "names": list(self.colours),
                "step_ms": int(round(self.step * 1000)), "nonce": self.nonce}


def draw(settings: FlashSettings = FlashSettings(), choose=secrets.choice) -> Flash:
    names = list(PALETTE)
    colours = [choose(names)]
    while len(colours) < settings.steps:
        colours.append(choose([n for n in names if n != colours[-1]]))
    return Flash(tuple(colours), settings.step, secrets.token_hex(8))


@dataclasses.dataclass(frozen=True)
class FlashResult:
    passed: bool
    reason: str                 # "passed" | "no_reflection" | "added_light" | "out_of_step" | "too_few_frames" |
                                # "unreadable" (too few patches neither clipped nor dark)
    fit: float                  # R^2 of the face's colour against this draw's light
    response: float             # median log change per unit of screen light over the patches
    slope: float                # log response against log brightness over the patches
    lag: float                  # seconds from "shown" to the best fit
    better_draws: int           # other draws that explain the face better (0 for a live face)
    second: float = 0.0         # the share another draw explains on top of this one (noise on a live face)


def sample_patches(rgb: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """Mean RGB (P x 3, float) of a small square around each PATCHES mesh point."""
    h, w = rgb.shape[:2]
    r = max(1, int(round(radius)))
    out = np.empty((len(PATCHES), 3))
    for i, p in enumerate(PATCHES):
        x, y = int(round(points[p, 0])), int(round(points[p, 1]))
        x0, x1, y0, y1 = max(0, x - r), min(w, x + r + 1), max(0, y - r), min(h, y + r + 1)
        out[i] = rgb[y0:y1, x0:x1].reshape(-1, 3).mean(0) if x1 > x0 and y1 > y0 else np.nan
    return out


def screen_at(flash: Flash, times: np.ndarray, exposure: float) -> np.ndarray:
    """The screen's mean colour (N x 3, 0..1) over each frame's exposure ending at ``times`` (seconds from the
    first colour); NaN outside the sequence."""
    rgb = flash.rgb()
    out = np.full((len(times), 3), np.nan)
    for i, t in enumerate(times):
        a, b = t - exposure, t
        if a < 0 or b > flash.duration():
            continue
        acc = np.zeros(3)
        for k in range(len(rgb)):
            lo, hi = max(a, k * flash.step), min(b, (k + 1) * flash.step)
            if hi > lo:
                acc += rgb[k] * (hi - lo)
        out[i] = acc / exposure
    return out


def judge(flash: Flash, start: float, times: np.ndarray, patches: np.ndarray,
          settings: FlashSettings = FlashSettings(), pose: np.ndarray | None = None) -> FlashResult:
    """``times`` (N, camera clock), ``patches`` (N x P x 3 mean RGB) of the frames around the sequence, which the
    screen showed from ``start``; ``pose`` (N x k: the head's turn, the eyes' opening) is regressed out, since
    turning or blinking changes what the patches see whatever the screen shows.

    Timing: at the lag where this attempt's draw explains the face's colour best, no other draw the scheme allows
    may explain it clearly better (an attacker's guess does, when it is not this draw). Reflection: the
    patches' response to this attempt's light must not fall with their brightness (added light does)."""
    exposure = float(np.median(np.diff(times))) if len(times) > 1 else flash.step
    # a patch that clips at white or sinks into the noise cannot show how it responds: leave it out
    readable = (np.nanmax(patches, axis=(0, 2)) < 250) & (np.nanmin(patches, axis=(0, 2)) > 6)
    if readable.sum() < 8:
        return FlashResult(False, "unreadable", 0.0, 0.0, 0.0, 0.0, 0)
    raw = np.clip(patches[:, readable], 1.0, None)
    level = np.exp(np.mean(np.log(raw), axis=(0, 2)))          # each patch's brightness
    logs = np.log(raw)
    # the camera's overall gain (auto-exposure) and the face's own brightness changes act on every patch alike
    logs = logs - logs.mean(axis=2, keepdims=True)
    logs = logs - logs.mean(0)
    face = np.median(logs, axis=1)        # the median patch: a few patches that slide onto hair do not lead
    nuisance = np.zeros((len(times), 0)) if pose is None else np.asarray(pose, dtype=np.float64).reshape(len(times), -1)
    names = list(PALETTE)
    pal = np.asarray([PALETTE[c] for c in names], dtype=np.float64) / 255.0
    cands = _sequences(len(names), len(flash.colours))
    ours = cands.tolist().index([names.index(c) for c in flash.colours])
    # every lag is judged on the same frames, from just before the first colour to the last colour plus the
    # longest lag; outside the sequence the screen shows white (the kiosk pads the sequence with it)
    window = (times >= start - exposure) & (times <= start + flash.duration() + settings.lag_max + exposure)
    if window.sum() < 2 * len(flash.colours):
        return FlashResult(False, "too_few_frames", 0.0, 0.0, 0.0, 0.0, 0)
    t, face, logs = times[window], face[window], logs[window]
    basis = _basis(t, nuisance[window])
    seq_rgb = np.concatenate([pal[cands], np.broadcast_to(pal[names.index("white")], (len(cands), 1, 3))], 1)
    # the lag belongs to the camera and the screen, not to a draw: take the lag at which this attempt's draw fits
    # best; every draw competes there (margin), and at its own best lag too (lag_margin): a player's guess starts
    # when the player sees the screen change, later than the camera sees the face change
    lags = np.arange(-0.04, settings.lag_max + 1e-9, 0.02)     # "shown" can arrive just after the paint
    weights = [_step_weights(len(flash.colours), flash.step, t - start - lag, exposure) for lag in lags]
    proj = basis @ np.linalg.pinv(basis)
    obs = face - proj @ face
    preds = [_predict(w, seq_rgb, proj) for w in weights]
    fits = np.stack([_fits(pred, obs) for pred in preds])
    at = int(np.argmax(fits[:, ours]))
    lag, best_fit = float(lags[at]), fits[at]
    second = _second_light(preds, ours, at, obs)
    screen = weights[at] @ seq_rgb[ours]
    sc = screen - screen.mean(1, keepdims=True)
    sc = sc - proj @ sc
    n, p = len(t), logs.shape[1]
    y = logs.reshape(n, -1)
    y = (y - proj @ y).reshape(n, p, 3)
    # per patch: the response to the screen's light, one least-squares coefficient over the channels
    response = np.einsum("npc,nc->p", y, sc) / (float((sc ** 2).sum()) + 1e-12)
    overall = float(np.median(response))
    good = response > 0
    slope = _theil_sen(np.log(level[good]), np.log(response[good])) if good.sum() >= 6 else 0.0
    # 0: no other draw clearly explains the face better, at this draw's lag or at its own
    better = (best_fit > best_fit[ours] + settings.margin) | (fits.max(0) > best_fit[ours] + settings.lag_margin)
    rank = int(better.sum())
    if overall < settings.min_response or good.mean() < 0.7:
        reason = "no_reflection"
    elif slope < settings.min_slope:
        reason = "added_light"
    elif rank > 0 or best_fit[ours] < settings.min_fit or second > settings.max_second:
        reason = "out_of_step"
    else:
        reason = "passed"
    return FlashResult(reason == "passed", reason, round(float(best_fit[ours]), 3), round(overall, 4),
                       round(slope, 3), round(lag, 2), rank, round(second, 3))


def _sequences(colours: int, steps: int) -> np.ndarray:
    """Every draw the scheme allows (no colour twice in a row), as palette indices: n x (n-1)^(steps-1) rows."""
    seqs = [[c] for c in range(colours)]
    for _ in range(steps - 1):
        seqs = [s + [c] for s in seqs for c in range(colours) if c != s[-1]]
    return np.asarray(seqs)


def _step_weights(steps: int, step: float, times: np.ndarray, exposure: float) -> np.ndarray:
    """How much of each frame's exposure (ending at ``times``, seconds from the first colour) fell in each step,
    and (last column) before or after the sequence."""
    lo = np.arange(steps) * step
    a, b = (times - exposure)[:, None], times[:, None]
    w = np.clip(np.minimum(b, lo + step) - np.maximum(a, lo), 0, None) / exposure
    return np.c_[w, 1.0 - w.sum(1)]


def _basis(t: np.ndarray, nuisance: np.ndarray) -> np.ndarray:
    """What the screen's light is not: a level, a drift, and the pose (the turn and its square, the eyes)."""
    cols = [np.ones_like(t), t - t.mean()]
    for i, c in enumerate(nuisance.T):
        sd = float(c.std())
        if sd > 1e-9:
            z = (c - c.mean()) / sd
            cols += [z, z ** 2] if i == 0 else [z]
    return np.stack(cols, 1)


def _predict(w: np.ndarray, seq_rgb: np.ndarray, proj: np.ndarray) -> np.ndarray:
    """Each candidate's light on the face (K x N x 3) through the frames' exposures ``w`` (N x steps+1), less
    its mean over the channels and what ``proj`` (the basis's projection) explains: what the face's colour must
    follow if the candidate lit it."""
    pred = np.tensordot(w, seq_rgb, axes=([1], [1]))                    # N x K x 3
    pred = pred - pred.mean(2, keepdims=True)
    flat = pred.reshape(len(w), -1)
    return (flat - proj @ flat).reshape(pred.shape).transpose(1, 0, 2)


def _fits(pred: np.ndarray, obs: np.ndarray) -> np.ndarray:
    """For each candidate's prediction (K x N x 3, _predict): the share of the face's colour signal (``obs``,
    N x 3, the basis removed likewise) that the candidate's light explains, with one non-negative gain per
    channel (the camera's)."""
    pp = (pred * pred).sum(1)
    po = (pred * obs[None]).sum(1)
    gain = np.clip(po / (pp + 1e-12), 0, None)
    # the residual's energy: |obs|^2 - 2 g po + g^2 pp per channel
    sse = float((obs ** 2).sum()) - (2 * gain * po - gain ** 2 * pp).sum(1)
    return 1.0 - sse / (float((obs ** 2).sum()) + 1e-12)


def _second_light(preds: list[np.ndarray], ours: int, at: int, obs: np.ndarray) -> float:
    """The largest share of the face's colour signal (``obs``) that another draw, at any lag (``preds``: each
    lag's _predict), adds to what this attempt's draw explains alone at its lag ``at`` (the pair may time this
    draw a little differently), each light with a non-negative gain per channel. A face lit by the screen alone
    leaves only noise for it; a player painting a guess of the draw over a device's glass, which mirrors the
    real one, leaves the guess."""
    total = float((obs ** 2).sum()) + 1e-12
    near = range(max(0, at - 2), min(len(preds), at + 3))
    xs = np.stack([preds[j][ours] for j in near])                          # L x N x 3: this draw, lag by lag
    xx = np.maximum((xs * xs).sum(1), 1e-12)                              # L x 3
    xo = (xs * obs[None]).sum(1)
    alone = (np.clip(xo, 0, None) ** 2 / xx).sum(1)                       # what this draw explains alone
    gained = alone - alone[at - near.start]
    resid = obs[None] - xs * (xo / xx)[:, None, :]                        # L x N x 3: what it leaves
    best = 0.0
    for pred in preds:
        pp = (pred * pred).sum(1)                                         # K x 3
        px = np.einsum("knc,lnc->klc", pred, xs, optimize=True)
        pr = np.einsum("knc,lnc->klc", pred, resid, optimize=True)       # = r.resid: resid holds none of x
        rr = pp[:, None, :] - px ** 2 / xx[None]                          # |the part this draw does not hold|^2
        # a candidate all but collinear with this draw explains nothing new
        extra = np.where(rr > 1e-3 * pp[:, None, :], np.clip(pr, 0, None) ** 2 / np.maximum(rr, 1e-12), 0.0)
        share = (extra.sum(2) + gained[None]) / total                     # K x L
        share[ours] = 0.0      # this draw again at another lag is the exposure's timing, not a second light
        best = max(best, float(share.max()))
    return best


def _theil_sen(x: np.ndarray, y: np.ndarray) -> float:
    """The median of the slopes between every two points: a few patches that mirror the screen (glasses, a
    glossy forehead) do not move it."""
    i, j = np.triu_indices(len(x), 1)
    dx = x[j] - x[i]
    keep = np.abs(dx) > 0.05
    return float(np.median((y[j] - y[i])[keep] / dx[keep])) if keep.any() else 0.0
