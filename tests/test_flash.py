"""The screen's light (daemon/face/flash.py) on synthetic frames: a face that reflects this attempt's draw passes;
light added on top of an emitting screen, a guess of the draw, or no response at all does not."""
import numpy as np
import pytest

from mynareader.daemon.face import flash as F

FPS = 30.0


def frames(flash, *, shown_colours=None, additive=False, strength=0.08, lag=0.06, seed=0, response=True):
    """Patches of a face (dark brows to bright forehead) over the sequence, lit by ``shown_colours`` (this draw's
    by default) after ``lag`` s; reflected light multiplies each patch, added light adds the same to each."""
    rng = np.random.default_rng(seed)
    albedo = rng.uniform(25, 200, (30, 1)) * np.array([1.0, 0.85, 0.7])
    shown = flash.rgb() if shown_colours is None else shown_colours
    times = np.arange(-0.1, flash.duration() + 0.4, 1 / FPS)
    out = []
    for t in times:
        k = int((t - lag) // flash.step)
        light = shown[k] if 0 <= t - lag and k < len(shown) else np.array([0.92, 0.92, 0.92])
        light = light if response else np.array([0.92, 0.92, 0.92])
        if additive:
            p = albedo * 1.0 + 255 * strength * 0.3 * light
        else:
            p = albedo * (1.0 + strength * light)
        out.append(p * rng.uniform(0.98, 1.02) + rng.normal(0, 0.3, p.shape))
    return times, np.asarray(out)


@pytest.fixture
def draw():
    return F.draw()


def test_a_face_that_reflects_this_draw_passes(draw):
    times, patches = frames(draw)
    result = F.judge(draw, 0.0, times, patches)
    assert result.passed, result
    assert result.better_draws == 0 and -0.05 <= result.lag <= 0.12 and result.slope > F.FlashSettings().min_slope


def test_light_added_on_an_emitting_screen_is_refused(draw):
    times, patches = frames(draw, additive=True)
    result = F.judge(draw, 0.0, times, patches)
    assert not result.passed and result.reason == "added_light", result


def test_a_guess_of_the_draw_is_out_of_step():
    ours = F.draw()
    names = list(F.PALETTE)
    guesses = 0
    for i, seq in enumerate(F._sequences(len(names), len(ours.colours))[::37]):
        guess = tuple(names[j] for j in seq)
        if guess == ours.colours:
            continue
        guesses += 1
        times, patches = frames(ours, shown_colours=np.asarray([F.PALETTE[c] for c in guess]) / 255.0, seed=i)
        result = F.judge(ours, 0.0, times, patches)
        assert not result.passed and result.reason in ("out_of_step", "no_reflection"), (guess, ours.colours, result)
    assert guesses >= 8


def test_no_response_is_no_reflection(draw):
    times, patches = frames(draw, response=False)
    assert F.judge(draw, 0.0, times, patches).reason == "no_reflection"


def test_a_face_that_clips_cannot_be_read(draw):
    times, patches = frames(draw)
    assert F.judge(draw, 0.0, times, np.full_like(patches, 255.0)).reason == "unreadable"


def test_the_scheme_and_what_the_screen_is_told():
    settings = F.FlashSettings()
    seqs = F._sequences(len(F.PALETTE), settings.steps)
    assert len(seqs) == 5 * 4 ** 4 and not any((s[1:] == s[:-1]).any() for s in seqs)   # no colour twice in a row
    d = F.draw(settings)
    wire = d.wire()
    assert len(wire["colours"]) == settings.steps and wire["step_ms"] == 200 and len(wire["nonce"]) == 16
    assert all(c.startswith("#") and len(c) == 7 for c in wire["colours"])
    # photosensitivity (WCAG 2.3.1): at most 3 flashes (pairs of opposing changes) a second, no saturated red
    assert 1 / settings.step / 2 <= 3
    assert all(not (r > 200 and g < 60 and b < 60) for r, g, b in F.PALETTE.values())


def test_a_guess_shown_later_than_the_camera_sees_the_screen_is_out_of_step():
    """A player sees the kiosk change and then paints its guess: the guess reaches the camera later than the
    kiosk's own light would. Every draw competes at its own best lag, so a guess does not pass for lack of
    competition at this draw's lag (the old same-lag ranking let one of these through)."""
    names = list(F.PALETTE)
    seqs = F._sequences(len(names), 4)
    tried = 0
    for i in range(0, len(seqs), 7):
        ours = F.Flash(tuple(names[j] for j in seqs[(i * 13) % len(seqs)]), 0.2, "test")
        guess = seqs[i]
        if tuple(names[j] for j in guess) == ours.colours:
            continue
        tried += 1
        shown = np.asarray([F.PALETTE[names[j]] for j in guess]) / 255.0
        times, patches = frames(ours, shown_colours=shown, lag=0.12, seed=i)
        result = F.judge(ours, 0.0, times, patches)
        assert not result.passed, (guess, ours.colours, result)
    assert tried >= 40


def test_a_guess_painted_over_a_glass_that_mirrors_the_draw_is_a_second_light():
    """A player paints a guess of the draw on the replayed face while the device's glass mirrors the real draw:
    with the guess wrong in one step of five, this draw still explains the face best (the glass holds it), so the
    timing alone lets some through; what the guess adds on top of this draw gives it away."""
    names = list(F.PALETTE)
    ours = F.Flash(("blue", "yellow", "green", "magenta", "white"), 0.2, "test")
    timing_alone = tried = 0
    for glass in (0.04, 0.06, 0.08):
        for k in range(len(ours.colours)):
            for c in names:
                guess = list(ours.colours)
                if c in guess[max(0, k - 1):k + 2]:       # the same colour, or one twice in a row
                    continue
                guess[k] = c
                shown = np.asarray([F.PALETTE[x] for x in guess]) / 255.0
                times, painted = frames(ours, shown_colours=shown, seed=k, lag=0.1)
                mirrored = frames(ours, additive=True, strength=glass, seed=k, lag=0.05)[1] - \
                    frames(ours, additive=True, strength=0.0, seed=k, lag=0.05)[1]
                result = F.judge(ours, 0.0, times, painted + mirrored)
                tried += 1
                timing_alone += F.judge(ours, 0.0, times, painted + mirrored, F.FlashSettings(max_second=1.0)).passed
                assert not result.passed, (glass, guess, result)
    assert tried >= 30 and timing_alone >= 3
