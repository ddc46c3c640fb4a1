"""Setpoint generation: properties over random schedules and PV traces, no clock, no sleeps."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.kiln.program import engine, programmer
from labctl.kiln.program.engine import Phase, ProgramState
from labctl.profiles.segments import Cool, FinalHold, Hold, Ramp, Schedule, Segment, Step

TICK_S = 10.0


def _schedule(segments: tuple[Segment, ...], **kw: float) -> Schedule:
    base = {
        "max_temp_c": 760.0,
        "holdback_band_c": 15.0,
        "holdback_limit_min": 60.0,
        "soak_band_c": 10.0,
    }
    base.update(kw)
    return Schedule(name="t", segments=segments, **base)


SMALL = _schedule(
    (
        Ramp(149, 150),
        Hold(120),
        Ramp(371, 240),
        Hold(60),
        Ramp(732, 240),
        Hold(120),
        Cool(530, 150),
        Hold(60),
        FinalHold(530),
    )
)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    level = 20.0
    segs: list[Segment] = []
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.floats(level + 10, min(level + 300, 750)))
        rate = draw(st.one_of(st.none(), st.floats(30, 600)))
        if rate or draw(st.booleans()):
            segs.append(Ramp(target, rate))
        else:  # a step up by more than the band would heat at full power: only the first
            target = target if not segs else min(target, level + 14.0)
            segs.append(Step(target))
        level = target
        if draw(st.booleans()):
            segs.append(Hold(draw(st.floats(1, 240))))
        if level > 700:
            break
    final = draw(st.floats(min(300.0, level), level))
    if final < level:
        segs.append(Cool(final, draw(st.floats(30, 300))))
    segs.append(FinalHold(final))
    return _schedule(tuple(segs), holdback_limit_min=draw(st.floats(10, 120)))


def _target(schedule: Schedule, state: ProgramState) -> float | None:
    seg = schedule.segments[state.segment]
    return getattr(seg, "target_c", None)


@settings(max_examples=150, deadline=None)
@given(schedules(), st.lists(st.floats(-40, 40), min_size=50, max_size=400), st.floats(1, 120))
def test_setpoint_stays_within_targets_and_rates(
    schedule: Schedule, noise: list[float], dt: float
) -> None:
    state = engine.begin(schedule, 20.0)
    for offset in noise:
        before = state
        result = engine.advance(schedule, state, state.setpoint_c + offset, dt)
        if result.fault is not None:
            assert "holdback exceeded" in result.fault
            break
        state = result.state
        assert state.setpoint_c <= schedule.max_temp_c
        highest = max(getattr(s, "target_c", 0.0) for s in schedule.segments)
        assert state.setpoint_c <= highest + 1e-9
        if state.segment == before.segment:
            seg = schedule.segments[state.segment]
            rate = getattr(seg, "rate_c_per_h", None)
            if isinstance(seg, Ramp | Cool) and rate is not None:
                assert abs(state.setpoint_c - before.setpoint_c) <= rate * dt / 3600 + 1e-6
                target = _target(schedule, state)
                assert target is not None
                lo, hi = sorted((before.setpoint_c, target))
                assert lo - 1e-9 <= state.setpoint_c <= hi + 1e-9


@settings(max_examples=150, deadline=None)
@given(schedules(), st.floats(16, 400), st.floats(1, 60), st.integers(1, 60))
def test_holdback_never_advances_the_program_outside_the_band(
    schedule: Schedule, lag: float, dt: float, ticks: int
) -> None:
    state = engine.begin(schedule, 20.0)
    for _ in range(5):  # get into the program a little, PV on the setpoint
        state = engine.advance(schedule, state, state.setpoint_c, dt).state
    if state.phase is Phase.FINAL_HOLD:
        return
    frozen = state
    seg = schedule.segments[state.segment]
    if (isinstance(seg, Ramp) and seg.rate_c_per_h is None) or isinstance(seg, Step):
        return
    sign = -1.0 if isinstance(seg, Ramp | Hold) else 1.0
    for _ in range(ticks):
        result = engine.advance(schedule, state, state.setpoint_c + sign * lag, dt)
        if result.fault is not None:
            assert state.holdback_s + dt > schedule.holdback_limit_min * 60
            return
        state = result.state
        assert (state.segment, state.setpoint_c, state.soaked_s) == (
            frozen.segment,
            frozen.setpoint_c,
            frozen.soaked_s,
        )


def test_holdback_past_its_limit_is_a_fault_in_plain_words() -> None:
    state = engine.begin(SMALL, 20.0)
    fault = None
    for _ in range(int(70 * 60 / TICK_S)):
        result = engine.advance(SMALL, state, 20.0, TICK_S)  # the kiln does not heat
        if result.fault:
            fault = result.fault
            break
        state = result.state
    assert fault is not None
    assert fault.startswith("holdback exceeded 60 min in 1/9 ramp to 149 °C")
    assert "PV 20 °C" in fault


def test_guaranteed_soak_counts_only_time_in_band() -> None:
    sched = _schedule((Step(500), Hold(30), FinalHold(500)))
    state = engine.begin(sched, 20.0)
    state = engine.advance(sched, state, 495.0, TICK_S).state  # step done, soak begins
    assert state.segment == 1
    soaked = state.soaked_s
    for _ in range(60):  # 10 min out of band: no soak time
        state = engine.advance(sched, state, 470.0, TICK_S).state
    assert state.soaked_s == soaked
    for _ in range(int((30 * 60 - soaked) / TICK_S) - 1):
        state = engine.advance(sched, state, 500.0, TICK_S).state
    assert state.phase is Phase.RUNNING
    state = engine.advance(sched, state, 500.0, TICK_S).state
    assert state.phase is Phase.FINAL_HOLD


def test_nominal_run_reaches_final_hold_on_time() -> None:
    state = engine.begin(SMALL, 20.0)
    expected = engine.remaining_s(SMALL, state)
    assert expected is not None
    elapsed = 0.0
    while state.phase is not Phase.FINAL_HOLD:
        result = engine.advance(SMALL, state, state.setpoint_c, TICK_S)
        assert result.fault is None
        state, elapsed = result.state, elapsed + TICK_S
    assert expected <= elapsed < expected + 2 * TICK_S * len(SMALL.segments)
    assert state.setpoint_c == 530
    assert engine.remaining_s(SMALL, state) == 0


@given(st.floats(-20, 790))
def test_a_new_run_begins_at_its_first_segment_or_is_refused_as_too_hot(pv: float) -> None:
    """Regression (issue 12): a kiln at 596 °C began at the cool and skipped the dewax."""
    if pv <= 149 + 15:
        state = engine.begin(SMALL, pv)
        assert (state.segment, state.setpoint_c, state.phase) == (0, pv, Phase.RUNNING)
        return
    with pytest.raises(engine.TooHot) as hot:
        engine.begin(SMALL, pv)
    assert f"at {pv:.0f} °C" in str(hot.value) and "loading temperature of t (149 °C" in str(
        hot.value
    )


def test_a_hot_kiln_chosen_to_cool_first_runs_every_segment_after_it_cooled() -> None:
    state = engine.begin(SMALL, 596.0, cool_first=True)
    assert (state.phase, state.setpoint_c) == (Phase.COOLING_TO_LOAD, 149.0)
    assert engine.remaining_s(SMALL, state) is None
    for _ in range(int(12 * 3600 / TICK_S)):  # 12 h without cooling: no holdback fault
        result = engine.advance(SMALL, state, 596.0, TICK_S)
        assert result.fault is None and result.setpoint_c == 149.0
        state = result.state
    result = engine.advance(SMALL, state, 160.0, TICK_S)
    assert result.events == (
        "kiln cooled to 160 °C (loading temperature 149 °C): segment 1/9 ramp to 149 °C at "
        "150 °C/h started",
    )
    state, pv, seen = result.state, 160.0, {0}
    for _ in range(int(20 * 3600 / TICK_S)):  # then the whole program, PV on the setpoint
        result = engine.advance(SMALL, state, pv, TICK_S)
        assert result.fault is None
        state, pv = result.state, result.setpoint_c
        seen.add(state.segment)
        if state.phase is Phase.FINAL_HOLD:
            break
    assert seen == set(range(len(SMALL.segments)))  # nothing skipped


def test_full_power_ramp_waits_without_holdback_limit() -> None:
    sched = _schedule((Ramp(700, None), FinalHold(700)), holdback_limit_min=10)
    state = engine.begin(sched, 20.0)
    for _ in range(200):  # 33 min still heating: no fault, setpoint at the target
        result = engine.advance(sched, state, 300.0, TICK_S)
        assert result.fault is None
        state = result.state
    assert state.setpoint_c == 700
    state = engine.advance(sched, state, 690.0, TICK_S).state
    assert state.phase is Phase.FINAL_HOLD


def test_device_segments_merge_ramp_and_dwell() -> None:
    segs = programmer.to_device_segments(SMALL, max_segments=8)
    assert [(s.target_c, s.ramp_rate_c_per_h, s.dwell_min) for s in segs] == [
        (149, 150, 120),
        (371, 240, 60),
        (732, 240, 120),
        (530, 150, 60),
    ]
    with pytest.raises(ValueError, match="needs 4"):
        programmer.to_device_segments(SMALL, max_segments=3)


def test_follow_tracks_the_device_and_keeps_the_holdback_limit() -> None:
    state = engine.begin(SMALL, 20.0)

    def follow(state: ProgramState, seg: int, sp: float, pv: float) -> engine.Advance:
        return programmer.follow(
            SMALL,
            state,
            device_segment=seg,
            device_sp_c=sp,
            pv_c=pv,
            device_ended=False,
            dt_s=TICK_S,
        )

    r = follow(state, 2, 300.0, 298.0)
    assert (r.state.segment, r.setpoint_c) == (2, 300.0)
    r = follow(r.state, 2, 371.0, 371.0)
    assert r.state.segment == 3  # dwelling at 371
    state = r.state
    for _ in range(int(60 * 60 / TICK_S) + 1):
        r = follow(state, 2, 371.0, 300.0)
        state = r.state
        if r.fault:
            break
    assert r.fault is not None and "holdback exceeded" in r.fault
    r = programmer.follow(
        SMALL,
        state,
        device_segment=4,
        device_sp_c=530.0,
        pv_c=530.0,
        device_ended=True,
        dt_s=TICK_S,
    )
    assert r.state.phase is Phase.FINAL_HOLD


@pytest.mark.parametrize("last", [FinalHold(700), Step(700)])
def test_a_jump_far_above_the_segment_before_without_a_ramp_is_refused(last: Segment) -> None:
    """Regression (issue 12): a step down then a final hold far above it heated at full power."""
    segments: tuple[Segment, ...] = (Ramp(300, 100), Hold(10), Cool(200, 100), last)
    if isinstance(last, Step):
        segments = (*segments, FinalHold(700))
    with pytest.raises(ValueError, match="500 °C above the 200 °C before it with no ramp"):
        _schedule(segments)
