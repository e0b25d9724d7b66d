"""``bench liveness``'s report: which presentations count where (pure logic, no camera)."""
from mynareader.daemon.cli.liveness import summarise, upper95


def row(scene, liveness, match, seconds=1.5, on=True):
    return {"scene": scene, "seed": 0, "cue": "turn_left", "liveness": liveness, "match": match, "flash": "passed",
            "scene_seconds": seconds, "frames": 20, "wall_ms_per_frame": 10.0, "liveness_on": on}


def test_a_live_person_who_is_not_the_holder_counts_for_liveness_not_for_the_match_time():
    rows = [row("live", "passed", True, 1.6), row("live", "passed", True, 1.4),
            row("live-other", "passed", False, 3.0), row("live-other", "failed: no_blink", False, 4.0),
            row("live-other", "pending", False, 9.0),
            row("replay-aware", "passed", False), row("replay-aware", "failed: out_of_step", False),
            row("live", "off", True, 0.1, on=False)]
    s = summarise(rows)
    other = s["bona_fide_other"]
    assert other["presentations"] == 3 and other["rejected"] == 1 and other["matched"] == 0
    assert abs(other["bpnrr"] - 1 / 3) < 1e-9
    assert s["bona_fide"]["presentations"] == 2 and s["bona_fide"]["rejected"] == 0
    assert s["time_added_s"]["max"] == 1.5          # the holder's slowest (1.6 s) less the check-free median
    assert s["attacks"]["replay-aware"]["accepted"] == 1


def test_the_upper_bound_is_clopper_pearson():
    assert abs(upper95(0, 100) - 0.0295) < 0.001     # ~3/n, the rule of three
    assert abs(upper95(3, 100) - 0.0757) < 0.001
    assert upper95(0, 0) == 1.0
