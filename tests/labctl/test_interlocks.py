"""The interlocks: each trip on a crafted trace, none on a normal one, and properties."""

import inspect
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labctl.config.limits import InterlockLimits
from labctl.kiln import interlocks
from labctl.kiln.interlocks import (
    InterlockState,
    Observation,
    Trip,
    TripKind,
    evaluate,
    format_duration,
)

LIMITS = InterlockLimits(
    max_temp_c=790.0,
    stale_after_s=180.0,
    stall_grace_s=1800.0,
    stall_window_s=900.0,
    stall_min_rate_c_per_h=20.0,
    stall_output_pct=95.0,
    runaway_window_s=600.0,
    runaway_rise_c=15.0,
    runaway_output_pct=5.0,
)

Tick = tuple[float, Observation | None]


def obs(at: float, pv: float | None, out: float | None, sp: float, **flags: bool) -> Observation:
    return Observation(at=at, pv_c=pv, output_pct=out, setpoint_c=sp, **flags)


def trips(ticks: Iterable[Tick], limits: InterlockLimits = LIMITS, start: float = 0.0):
    """Every (now, trip) of a trace, evaluated tick by tick from a fresh state."""
    state = InterlockState.start(start)
    found: list[tuple[float, Trip]] = []
    for now, o in ticks:
        state, trip = evaluate(limits, state, o, now)
        if trip is not None:
            found.append((now, trip))
    return found


def first(ticks: Iterable[Tick], limits: InterlockLimits = LIMITS) -> tuple[float, Trip] | None:
    found = trips(ticks, limits)
    return found[0] if found else None


def trace(seconds: float, dt: float, pv, out, sp, start: float = 0.0) -> list[Tick]:
    """Ticks every ``dt`` from ``start``; pv, out and sp are functions of time."""
    times = [start + i * dt for i in range(int(seconds / dt) + 1)]
    return [(t, obs(t, pv(t), out(t), sp(t))) for t in times]


@pytest.mark.parametrize("dt", [1.0, 10.0, 60.0])
def test_a_normal_burnout_never_trips(dt):
    """Ramp 20 -> 730 °C at 180 °C/h, then hold: the kiln trails by 3 °C at moderate output."""

    def sp(t: float) -> float:
        return min(20.0 + 180.0 * t / 3600.0, 730.0)

    assert trips(trace(6 * 3600, dt, lambda t: sp(t) - 3.0, lambda t: 60.0, sp)) == []


@pytest.mark.parametrize(
    ("margin_c", "reading", "reason"),
    [
        (0.0, obs(2.0, 812.0, 0.0, 700.0), "PV 812 °C above the limit 790 °C"),
        (10.0, obs(2.0, 799.5, 0.0, 780.0), None),
        (10.0, obs(2.0, 800.5, 0.0, 780.0), "PV 800.5 °C above the limit 800 °C"),
        (
            0.0,
            obs(2.0, None, None, 780.0, pv_over_range=True),
            "PV beyond the sensor's range, above the limit 790 °C",
        ),
    ],
)
def test_over_temperature(margin_c, reading, reason):
    limits = replace(LIMITS, over_temp_margin_c=margin_c)
    expected = reason and (2.0, Trip(TripKind.OVER_TEMPERATURE, f"over-temperature: {reason}"))
    assert first([(0.0, obs(0.0, 700.0, 0.0, 700.0)), (2.0, reading)], limits) == expected


@pytest.mark.parametrize(
    ("reading", "words"),
    [
        (obs(4.0, 20.0, 0.0, 20.0, sensor_break=True), "open sensor"),
        (obs(4.0, None, 0.0, 20.0), "no valid PV"),
        (obs(4.0, float("nan"), 0.0, 20.0), "no valid PV"),
    ],
)
def test_sensor_break(reading, words):
    hit = first([(0.0, obs(0.0, 20.0, 0.0, 20.0)), (4.0, reading)])
    assert hit is not None
    assert hit[0] == 4.0
    assert hit[1].kind is TripKind.SENSOR_BREAK
    assert words in hit[1].reason


def test_missing_readings_trip_stale_after_the_limit_only():
    ticks: list[Tick] = [(0.0, obs(0.0, 20.0, 0.0, 20.0))]
    ticks += [(t, None) for t in (60.0, 120.0, 180.0)]
    assert first(ticks) is None  # 180 s without a reading is still within the limit
    assert first([*ticks, (240.0, None)]) == (
        240.0,
        Trip(TripKind.STALE_READING, "stale reading: no valid temperature for 4 min (limit 3 min)"),
    )


@pytest.mark.parametrize("reading", [None, obs(0.0, 20.0, 0.0, 20.0)])
def test_no_reading_or_the_same_old_one_is_stale(reading):
    hit = first([(float(t), reading) for t in range(0, 300, 30)])
    assert hit is not None
    assert (hit[0], hit[1].kind) == (210.0, TripKind.STALE_READING)


@pytest.mark.parametrize("dt", [2.0, 30.0, 60.0])
def test_heating_stall_after_grace(dt):
    """A dead element: output saturated, the kiln creeps up 12 °C/h, the program keeps going."""
    ticks = trace(
        4 * 3600, dt, lambda t: 300.0 + 12.0 * t / 3600.0, lambda t: 100.0, lambda t: 600.0
    )
    hit = first(ticks)
    assert hit is not None
    assert hit[1].kind is TripKind.HEATING_STALL
    assert hit[0] == LIMITS.stall_grace_s  # the window is full well before the grace ends
    assert hit[1].reason == (
        "heating stall: 12 °C/h over the last 15 min with output at 100 % (minimum 20 °C/h)"
    )


def test_stall_waits_for_a_full_window_with_coarse_ticks():
    limits = replace(LIMITS, stall_grace_s=0.0)
    hit = first(trace(3600, 60.0, lambda t: 300.0, lambda t: 100.0, lambda t: 600.0), limits)
    assert hit is not None
    assert hit[0] == 900.0


@pytest.mark.parametrize(
    ("pv", "out", "sp"),
    [
        (lambda t: 300.0 + 100.0 * t / 3600.0, lambda t: 100.0, lambda t: 700.0),  # heats fine
        (lambda t: 300.0, lambda t: 80.0, lambda t: 700.0),  # output not saturated
        (lambda t: 600.0, lambda t: 100.0, lambda t: 590.0),  # setpoint below PV
        (lambda t: 300.0, lambda t: None, lambda t: 700.0),  # output unknown
    ],
)
def test_no_stall_when_a_condition_is_missing(pv, out, sp):
    assert first(trace(4 * 3600, 10.0, pv, out, sp)) is None


def test_a_setpoint_step_up_restarts_the_grace_period():
    hold = trace(3600, 10.0, lambda t: 500.0, lambda t: 50.0, lambda t: 500.0)
    stuck = trace(3600, 10.0, lambda t: 500.0, lambda t: 100.0, lambda t: 700.0, start=3610.0)
    hit = first(hold + stuck)
    assert hit is not None
    assert (hit[0], hit[1].kind) == (3610.0 + LIMITS.stall_grace_s, TripKind.HEATING_STALL)


@pytest.mark.parametrize("dt", [2.0, 30.0, 60.0])
def test_runaway_with_output_off(dt):
    """A welded contactor: the controller asks for no heat and the kiln climbs 3 °C/min."""
    ticks = trace(3600, dt, lambda t: 600.0 + 3.0 * t / 60.0, lambda t: 0.0, lambda t: 600.0)
    hit = first(ticks)
    assert hit is not None
    assert hit[1].kind is TripKind.RUNAWAY
    assert hit[0] == LIMITS.runaway_window_s
    assert hit[1].reason == (
        "runaway: PV rose 30 °C over the last 10 min with output at 0 % (limit 15 °C); "
        "check for a stuck contactor or relay"
    )


@pytest.mark.parametrize(
    "pv",
    [
        lambda t: 700.0 - 100.0 * t / 3600.0,  # natural cooling
        lambda t: 600.0 + min(t, 300.0) * 0.04,  # 12 °C of overshoot after the output went off
    ],
)
def test_no_runaway_when_cooling_or_coasting(pv):
    assert first(trace(3600, 10.0, pv, lambda t: 0.0, lambda t: 600.0)) is None


def test_limits_are_checked():
    with pytest.raises(ValueError, match="positive"):
        replace(LIMITS, stall_window_s=0.0)
    with pytest.raises(ValueError, match="below"):
        replace(LIMITS, runaway_output_pct=95.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45.0, "45 s"), (119.4, "119.4 s"), (2820.0, "47 min"), (11100.0, "3 h 5 min")],
)
def test_durations_read_well(seconds, text):
    assert format_duration(seconds) == text


# --- properties -------------------------------------------------------------------------

steps = st.lists(
    st.tuples(
        st.integers(1, 60),  # dt, s
        st.floats(-5.0, 5.0),  # setpoint change this tick, °C
        st.floats(-3.0, 3.0),  # tracking error, °C
        st.floats(10.0, 90.0),  # output, %
    ),
    min_size=1,
    max_size=300,
)


def tracking(start: float, sp0: float, plan) -> list[Tick]:
    ticks: list[Tick] = []
    t, sp = start, sp0
    for dt, dsp, err, out in plan:
        t, sp = t + dt, min(max(sp + dsp, 20.0), 780.0)
        ticks.append((t, obs(t, sp + err, out, sp)))
    return ticks


@given(st.floats(20.0, 780.0), steps)
def test_a_kiln_tracking_its_setpoint_never_trips(sp0, plan):
    assert trips(tracking(0.0, sp0, plan)) == []


@given(st.floats(20.0, 780.0), steps, st.floats(790.01, 2000.0), st.booleans())
def test_over_temperature_always_trips(sp0, plan, pv, over_range):
    ticks = tracking(0.0, sp0, plan)
    now = ticks[-1][0] + 1.0
    hot = obs(now, None if over_range else pv, 0.0, sp0, pv_over_range=over_range)
    found = trips([*ticks, (now, hot)])
    assert found
    assert found[-1][0] == now
    assert found[-1][1].kind is TripKind.OVER_TEMPERATURE


def plans(*fields: st.SearchStrategy[Any], gaps: bool = True) -> st.SearchStrategy[list[Any]]:
    """Lists of (dt, (pv, output, setpoint, sensor break)); with ``gaps``, some are None."""
    reading = st.tuples(*fields)
    dt = st.integers(1, 120)
    return st.lists(st.tuples(dt, st.one_of(st.none(), reading) if gaps else reading), max_size=200)


def arbitrary(start: int, plan) -> list[Tick]:
    ticks: list[Tick] = []
    t = start
    for dt, reading in plan:
        t += dt
        at = float(t)
        ticks.append(
            (at, None if reading is None else obs(at, *reading[:3], sensor_break=reading[3]))
        )
    return ticks


anything = plans(
    st.one_of(st.none(), st.floats(0.0, 1000.0)),
    st.sampled_from([None, 0.0, 3.0, 50.0, 100.0]),
    st.floats(0.0, 1000.0),
    st.booleans(),
)
# A kiln going nowhere with its output saturated and its setpoint far above.
stalling = plans(
    st.floats(250.0, 300.0),
    st.sampled_from([95.0, 100.0]),
    st.floats(600.0, 1000.0),
    st.just(False),
    gaps=False,
)


@given(stalling)
def test_stall_never_fires_during_the_grace_period(plan):
    ticks = [tick for tick in arbitrary(0, plan) if tick[0] < LIMITS.stall_grace_s]
    assert all(trip.kind is not TripKind.HEATING_STALL for _, trip in trips(ticks))


@given(st.integers(0, 10**9), anything)
def test_decisions_depend_only_on_the_times_given(offset, plan):
    """Pure: shifting every time by an offset changes nothing, and a replay gives the same."""
    plain = [trip for _, trip in trips(arbitrary(0, plan))]
    assert plain == [trip for _, trip in trips(arbitrary(offset, plan), start=float(offset))]
    assert plain == [trip for _, trip in trips(arbitrary(0, plan))]


def test_the_module_reads_no_clock():
    source = inspect.getsource(interlocks)
    imported = set(re.findall(r"^(?:from|import) (\w+)", source, flags=re.MULTILINE))
    assert not imported & {"time", "datetime", "asyncio"}
