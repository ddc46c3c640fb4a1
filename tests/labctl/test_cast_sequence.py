"""The cast state machines and interlocks, pure, in virtual time (no sleeps)."""

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.capabilities import CasterInputs, CasterOutputs
from labctl.cast.interlocks import InterlockMemory, check
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CastRefused, cast_params
from labctl.cast.sequence import (
    SAFE,
    CastProgress,
    CastState,
    actuation,
    advance,
    waiting_for,
)
from labctl.config.limits import CasterKind, CasterLimits
from labctl.profiles.alloys import load_alloy

ALLOYS = Path(__file__).resolve().parents[2] / "profiles" / "alloys"
VAC = CasterLimits(kind=CasterKind.VACUUM, crucible_max_c=1450)
CEN = CasterLimits(kind=CasterKind.CENTRIFUGAL, crucible_max_c=1450)


def params(limits=VAC, alloy="gold-18k-yellow"):
    return cast_params(load_alloy(ALLOYS / f"{alloy}.toml"), "medium", limits)


def io(outputs=None, **kw):
    base = {"lid_closed": True, "flask_present": True, "estop_ok": True, "pump_running": True}
    base.update(kw)
    return CasterInputs(at=0.0, outputs=outputs or CasterOutputs(), **base)


def obs(at, **kw):
    kw.setdefault("io", io())
    return CasterObservation(at=at, **kw)


def run_until(progress, c, make_obs, *, until, start, max_s=5000.0, dt=1.0):
    t = start
    while progress.state is not until and t < start + max_s:
        t += dt
        tick = advance(progress, make_obs(t, progress), c)
        assert tick.fault is None, tick.fault
        progress = tick.progress
    assert progress.state is until
    return progress, t


def test_vacuum_cast_runs_through_every_state_in_order():
    c = params()
    seen = [CastState.PREFLIGHT]
    p = CastProgress(state=CastState.PREFLIGHT, entered_at=0.0)

    def plant(t, prog):
        a = actuation(prog, c)
        mbar = 40.0 if a.outputs.pump and a.outputs.chamber_valve else 1013.0
        return obs(t, crucible_c=c.pour_temp_c, crucible_tc_c=c.pour_temp_c, chamber_mbar=mbar)

    t = 0.0
    while p.state is not CastState.COMPLETE and t < 10_000:
        t += 1.0
        if waiting_for(p, c) == "flask_placed":
            p = dataclasses.replace(p, confirmed_by="tech1")
        tick = advance(p, plant(t, p), c)
        assert tick.fault is None
        if tick.progress.state is not p.state:
            seen.append(tick.progress.state)
        p = tick.progress
    assert seen == [
        CastState.PREFLIGHT,
        CastState.MELT,
        CastState.FLASK_TRANSFER,
        CastState.EVACUATE,
        CastState.POUR,
        CastState.VACUUM_HOLD,
        CastState.VENT,
        CastState.COMPLETE,
    ]
    assert actuation(p, c) == SAFE


def test_pour_only_with_vacuum_and_heat_off_in_the_hold():
    c = params()
    pour = actuation(CastProgress(state=CastState.POUR, entered_at=0), c)
    assert pour.outputs.pour and pour.outputs.pump and not pour.outputs.vent_valve
    hold = actuation(CastProgress(state=CastState.VACUUM_HOLD, entered_at=0), c)
    assert hold.crucible_sp_c is None and not hold.outputs.pour


def test_melt_needs_a_stable_pour_temperature_for_the_settle_time():
    c = params()
    p = CastProgress(state=CastState.MELT, entered_at=0.0)
    # oscillating outside the band never settles
    for t in range(1, 200):
        temp = c.pour_temp_c + (30 if t % 20 < 10 else 0)
        p = advance(p, obs(float(t), crucible_c=temp), c).progress
        assert p.state is CastState.MELT
    p, t = run_until(
        p,
        c,
        lambda t, _: obs(t, crucible_c=c.pour_temp_c),
        until=CastState.FLASK_TRANSFER,
        start=199.0,
    )
    # in the band since t=190 (the last excursion ended there)
    assert t == pytest.approx(190 + c.limits.stabilise_s)


def test_melt_timeout_is_a_fault_naming_the_temperature():
    c = params()
    p = CastProgress(state=CastState.MELT, entered_at=0.0)
    tick = advance(p, obs(c.limits.melt_limit_s + 1, crucible_c=700.0), c)
    assert tick.fault is not None and "700 °C" in tick.fault


def test_missing_confirmation_times_out_into_a_fault():
    c = params()
    p = CastProgress(state=CastState.FLASK_TRANSFER, entered_at=0.0)
    assert waiting_for(p, c) == "flask_placed"
    assert advance(p, obs(c.limits.confirm_timeout_s - 1), c).fault is None
    tick = advance(p, obs(c.limits.confirm_timeout_s + 1), c)
    assert tick.fault is not None and "nobody confirmed" in tick.fault


def test_vacuum_not_reached_in_time():
    c = params()
    p = CastProgress(state=CastState.EVACUATE, entered_at=0.0)
    tick = advance(p, obs(c.evacuate_limit_s + 1, chamber_mbar=400.0), c)
    assert tick.fault is not None and "vacuum not reached in time: 400 mbar" in tick.fault


def test_centrifugal_spins_up_holds_brakes_and_releases_the_lid_only_at_standstill():
    c = params(CEN)
    p = CastProgress(state=CastState.BALANCE, entered_at=0.0)
    assert waiting_for(p, c) == "balance_confirmed"
    p = dataclasses.replace(p, confirmed_by="tech1")
    # no release while the melt is not read (device_status: a WAIT in balance)
    assert advance(p, obs(1.0, rpm=0.0), c).progress.state is CastState.BALANCE
    p = advance(p, obs(1.0, rpm=0.0, crucible_c=c.pour_temp_c), c).progress
    assert p.state is CastState.SPIN_UP
    spin = actuation(p, c)
    assert spin.drive_hz == pytest.approx(c.spin_rpm / c.limits.rpm_per_hz)
    assert spin.outputs.pour and not spin.outputs.lid_release
    p = advance(p, obs(3.0, rpm=c.spin_rpm), c).progress
    assert p.state is CastState.SPIN_HOLD
    p = advance(p, obs(3.0 + c.spin_hold_s, rpm=c.spin_rpm), c).progress
    assert p.state is CastState.BRAKE and actuation(p, c).drive_hz is None
    still_turning = advance(p, obs(70.0 + c.spin_hold_s, rpm=100.0), c)
    assert still_turning.fault is not None and "did not stop" in still_turning.fault
    p = advance(p, obs(5.0 + c.spin_hold_s, rpm=0.0), c).progress
    assert p.state is CastState.LID_RELEASE and actuation(p, c).outputs.lid_release
    assert advance(p, obs(6.0 + c.spin_hold_s, rpm=0.0), c).progress.state is CastState.COMPLETE


def test_the_lid_stays_locked_while_the_standstill_sensor_sees_the_arm_turn():
    c = params(CEN)
    p = CastProgress(state=CastState.BRAKE, entered_at=0.0)
    coasting = obs(5.0, rpm=0.0, io=io(arm_stopped=False))  # drive output off, arm coasting
    assert advance(p, coasting, c).progress.state is CastState.BRAKE
    lid_open = obs(5.0, rpm=0.0, io=io(arm_stopped=False, lid_closed=False))
    assert trip(CastState.BRAKE, lid_open) == "lid opened while the arm turns"


def test_spin_up_timeout_names_the_speed_reached():
    c = params(CEN)
    p = CastProgress(state=CastState.SPIN_UP, entered_at=0.0)
    tick = advance(p, obs(c.spin_up_s + c.limits.spin_margin_s + 1, rpm=120.0), c)
    assert tick.fault is not None and "120 rpm" in tick.fault


def test_alloy_and_caster_must_fit():
    small = CasterLimits(kind=CasterKind.VACUUM, crucible_max_c=1200)
    with pytest.raises(CastRefused, match="limited to 1200"):
        params(small, alloy="platinum-950")


# ---------------------------------------------------------------- interlocks
def trip(state, o):
    return check(state, o, params(), SAFE, InterlockMemory())[1]


@pytest.mark.parametrize(
    ("state", "observation", "expect"),
    [
        (CastState.MELT, obs(0, io=io(estop_ok=False)), "e-stop pressed"),
        (CastState.MELT, obs(0, crucible_status="sensor break"), "crucible thermocouple open"),
        (
            CastState.MELT,
            obs(0, crucible_tc_status="open wire"),
            "independent crucible thermocouple",
        ),
        (CastState.MELT, obs(0, crucible_c=1200.0), "crucible over temperature"),
        (CastState.MELT, obs(0, crucible_c=1000.0, crucible_tc_c=900.0), "disagree"),
        (CastState.EVACUATE, obs(0, io=io(lid_closed=False)), "lid/door opened during evacuate"),
        (CastState.SPIN_HOLD, obs(0, io=io(lid_closed=False), rpm=300.0), "arm turns"),
        (CastState.VACUUM_HOLD, obs(0, chamber_mbar=600.0), "vacuum lost during vacuum_hold"),
        (CastState.EVACUATE, obs(0, gauge_status="sensor error"), "vacuum gauge: sensor error"),
        (CastState.SPIN_HOLD, obs(0, drive_fault=7), "drive fault (code 7)"),
        (CastState.POUR, obs(0, stale=("gauge1",)), "no reading from gauge1"),
    ],
)
def test_each_interlock_trips_with_its_reason(state, observation, expect):
    reason = trip(state, observation)
    assert reason is not None and expect in reason


def test_lid_may_open_while_a_person_places_the_flask():
    assert trip(CastState.FLASK_TRANSFER, obs(0, io=io(lid_closed=False))) is None


def test_pump_failure_trips_only_after_the_feedback_grace():
    c = params()
    on = actuation(CastProgress(state=CastState.EVACUATE, entered_at=0), c)
    memory = InterlockMemory()
    failed = io(outputs=on.outputs, pump_running=False)
    memory, reason = check(CastState.EVACUATE, obs(0.0, io=failed), c, on, memory)
    assert reason is None
    _, reason = check(CastState.EVACUATE, obs(10.0, io=failed), c, on, memory)
    assert reason is not None and "pump failure" in reason


def test_coils_changed_behind_labctl_trip_naming_them():
    c = params()
    on = actuation(CastProgress(state=CastState.VACUUM_HOLD, entered_at=0), c)
    dropped = io(outputs=CasterOutputs())  # the module's watchdog made every coil safe
    _, reason = check(CastState.VACUUM_HOLD, obs(0.0, io=dropped), c, on, InterlockMemory())
    assert reason == (
        "I/O module outputs changed behind labctl (chamber_valve, pump, vent_valve): "
        "comms watchdog or power cycle?"
    )


@given(
    crucible=st.one_of(st.none(), st.floats(0, 2000)),
    mbar=st.one_of(st.none(), st.floats(0, 2000)),
    rpm=st.one_of(st.none(), st.floats(0, 2000)),
    lid=st.booleans(),
    estop=st.booleans(),
    state=st.sampled_from(list(CastState)),
)
def test_interlocks_never_raise_and_estop_always_trips(crucible, mbar, rpm, lid, estop, state):
    o = obs(
        0, crucible_c=crucible, chamber_mbar=mbar, rpm=rpm, io=io(lid_closed=lid, estop_ok=estop)
    )
    reason = trip(state, o)
    if not estop:
        assert reason is not None


# ------------------------------------------- issue 12: a cast that lost its vacuum completes
def tpr(mbar):
    """What a Pirani (TPR) gauge reports: no value outside 5e-4 .. 1000 mbar, only a status."""
    if mbar > 1000.0:
        return {"chamber_mbar": None, "gauge_status": "overrange"}
    if mbar < 5e-4:
        return {"chamber_mbar": None, "gauge_status": "underrange"}
    return {"chamber_mbar": mbar, "gauge_status": "ok"}


def run_cast(c, chamber):
    """Interlocks then sequence, every second, as the runner does: (outcome, states seen).

    ``chamber(state, pumping)`` is the chamber pressure the plant has in that state.
    """
    p, memory, t = CastProgress(state=CastState.PREFLIGHT, entered_at=0.0), InterlockMemory(), 0.0
    seen: list[CastState] = []
    while p.state is not CastState.COMPLETE and t < 10_000:
        t += 1.0
        if waiting_for(p, c) is not None:
            p = dataclasses.replace(p, confirmed_by="tech1")
        a = actuation(p, c)
        pumping = a.outputs.pump and a.outputs.chamber_valve
        o = obs(
            t, crucible_c=c.pour_temp_c, crucible_tc_c=c.pour_temp_c, crucible_tc_status="ok",
            io=io(outputs=a.outputs, pump_running=a.outputs.pump),
            **tpr(chamber(p.state, pumping)),
        )  # fmt: skip
        memory, reason = check(p.state, o, c, a, memory)
        if reason is not None:
            return f"faulted: {reason}", seen
        tick = advance(p, o, c)
        if tick.fault is not None:
            return f"faulted: {tick.fault}", seen
        p = tick.progress
        seen.append(p.state)
    return ("completed" if p.state is CastState.COMPLETE else "running"), seen


@pytest.mark.parametrize("lost_in", [CastState.POUR, CastState.VACUUM_HOLD])
def test_a_vacuum_cast_back_at_atmosphere_during_pour_or_hold_ends_faulted(lost_in):
    """Regression (issue 12): the gauge reads overrange (no value); the cast said completed."""

    def chamber(state, pumping):
        if state is lost_in:
            return 1013.0  # the chamber is back at atmosphere (seal blown, lid lifted)
        return 40.0 if pumping else 1013.0

    outcome, seen = run_cast(params(), chamber)
    assert outcome == (
        "faulted: vacuum lost: the chamber gauge reads above its range (atmosphere) "
        f"during {lost_in}"
    )
    assert CastState.COMPLETE not in seen and CastState.VENT not in seen


def test_a_vacuum_cast_with_a_pirani_gauge_completes_and_vents_on_overrange():
    """At atmosphere a Pirani reads overrange: the evacuation starts there, the vent ends there."""
    outcome, seen = run_cast(params(), lambda state, pumping: 40.0 if pumping else 1013.0)
    assert outcome == "completed" and seen[-2:] == [CastState.VENT, CastState.COMPLETE]


def test_below_the_gauge_range_is_evacuated_and_a_good_hold():
    outcome, _ = run_cast(params(), lambda state, pumping: 1e-5 if pumping else 1013.0)
    assert outcome == "completed"


def test_evacuation_stuck_at_atmosphere_says_so():
    outcome, _ = run_cast(params(), lambda state, pumping: 1013.0)
    assert outcome.startswith(
        "faulted: vacuum not reached in time: above the gauge's range (atmosphere) after 60 s"
    )
