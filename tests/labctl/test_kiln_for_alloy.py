"""A burnout started for an alloy and piece class ends at that alloy's flask temperature."""

from pathlib import Path

import pytest

from labctl.commands.registry import CommandRefused
from labctl.kiln.commands import for_alloy
from labctl.profiles.alloys import load_alloy
from labctl.profiles.loader import load_burnout
from labctl.profiles.segments import Cool, FinalHold

PROFILES = Path(__file__).resolve().parents[2] / "profiles"


def test_final_hold_and_the_cool_into_it_follow_the_alloy():
    schedule = load_burnout(PROFILES / "burnout" / "gypsum-wax-small.toml")
    alloy = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
    adapted = for_alloy(schedule, alloy, "thin")
    assert adapted.casting_temp_c == alloy.flask.thin_c != schedule.casting_temp_c
    assert adapted.segments[-1] == FinalHold(alloy.flask.thin_c)
    cools = [s for s in adapted.segments if isinstance(s, Cool)]
    assert cools[-1].target_c == alloy.flask.thin_c
    changed = [
        i
        for i, (a, b) in enumerate(zip(adapted.segments, schedule.segments, strict=True))
        if a != b
    ]
    assert changed == [schedule.segments.index(Cool(530, 150)), len(schedule.segments) - 1]


def test_an_alloy_refuses_a_schedule_it_does_not_allow():
    schedule = load_burnout(PROFILES / "burnout" / "gypsum-wax-small.toml")
    platinum = load_alloy(PROFILES / "alloys" / "platinum-950.toml")
    with pytest.raises(CommandRefused, match="platinum-950 does not allow burnout profile"):
        for_alloy(schedule, platinum, "medium")
