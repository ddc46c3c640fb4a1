"""Resume after a restart: both the downtime and the temperature gate, stated plainly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.kiln.resume import Interrupted, Resume, decide_resume

SAVED_AT = 1_700_000_000.0
LIMITS = {"max_gap_s": 1800.0, "max_drop_c": 60.0}


def decide(down_s: float, pv_c: float | None, setpoint_c: float = 590.0):
    return decide_resume(
        saved_at_wall=SAVED_AT,
        now_wall=SAVED_AT + down_s,
        saved_setpoint_c=setpoint_c,
        pv_c=pv_c,
        **LIMITS,
    )


def test_a_short_restart_on_a_warm_kiln_resumes():
    assert decide(90.0, 585.0) == Resume(down_s=90.0)


def test_the_limits_themselves_still_resume():
    assert decide(1800.0, 530.0) == Resume(down_s=1800.0)


def test_a_hotter_kiln_resumes_and_is_left_to_the_interlocks():
    assert isinstance(decide(60.0, 700.0), Resume)


@pytest.mark.parametrize(
    ("down_s", "pv_c", "text"),
    [
        (47 * 60.0, 585.0, "interrupted: the daemon was down for 47 min (limit 30 min)"),
        (
            60.0,
            410.0,
            "interrupted: kiln cooled to 410 °C, 180 °C below the program setpoint 590 °C"
            " (limit 60 °C)",
        ),
        (60.0, None, "interrupted: no temperature reading after restart"),
        (60.0, float("nan"), "interrupted: no temperature reading after restart"),
        (
            -40.0,
            585.0,
            "interrupted: the system clock is 40 s behind the last saved state, so the time the"
            " daemon was down is unknown",
        ),
    ],
)
def test_interruptions_say_why(down_s, pv_c, text):
    decision = decide(down_s, pv_c)
    assert isinstance(decision, Interrupted)
    assert str(decision) == text


def test_a_long_gap_is_reported_before_a_missing_reading():
    decision = decide(3 * 3600.0 + 300.0, None)
    assert isinstance(decision, Interrupted)
    assert decision.reason == "the daemon was down for 3 h 5 min (limit 30 min)"


@given(
    st.floats(-1e6, 1e6),
    st.one_of(st.none(), st.floats(allow_nan=True)),
    st.floats(0.0, 1300.0),
)
def test_resume_only_inside_both_limits(down_s, pv_c, setpoint_c):
    decision = decide(down_s, pv_c, setpoint_c)
    down_s = (SAVED_AT + down_s) - SAVED_AT  # as the wall times represent it
    inside = (
        0.0 <= down_s <= LIMITS["max_gap_s"]
        and pv_c is not None
        and pv_c == pv_c  # not NaN
        and abs(pv_c) != float("inf")
        and setpoint_c - pv_c <= LIMITS["max_drop_c"]
    )
    assert isinstance(decision, Resume) == inside
