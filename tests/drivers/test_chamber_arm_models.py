"""Caster physics in plain numbers: the vacuum chamber with its flask, the centrifugal arm."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers._sim.plant.arm import ArmModel, ArmParams
from drivers._sim.plant.chamber import ChamberModel, ChamberParams

EVACUATE = {"pump_on": True, "chamber_valve": True, "vent_valve": False, "argon_valve": False}
HOLD = {"pump_on": True, "chamber_valve": False, "vent_valve": False, "argon_valve": False}
VENT = {"pump_on": False, "chamber_valve": False, "vent_valve": True, "argon_valve": False}
ARGON = {"pump_on": False, "chamber_valve": False, "vent_valve": False, "argon_valve": True}


def _run(model: ChamberModel, seconds: float, valves: dict[str, bool], dt: float = 0.5) -> None:
    for _ in range(round(seconds / dt)):
        model.step(dt, **valves)


def test_pump_down_reaches_cast_vacuum_quickly_and_ultimate_pressure() -> None:
    chamber = ChamberModel(flask_present=False)
    seconds = 0.0
    while chamber.chamber_mbar >= 100.0:
        chamber.step(0.5, **EVACUATE)
        seconds += 0.5
    assert 4.0 < seconds < 20.0, seconds  # 21 m³/h on a 20 L chamber
    _run(chamber, 120.0, EVACUATE)
    assert abs(chamber.chamber_mbar - ChamberParams().ultimate_mbar) < 0.05


def test_flask_lags_the_chamber_and_is_at_full_vacuum_in_about_30_s() -> None:
    chamber = ChamberModel()
    for _ in range(20):
        chamber.step(0.5, **EVACUATE)
        assert chamber.flask_mbar > chamber.chamber_mbar
    assert chamber.flask_mbar > 200.0 > chamber.chamber_mbar  # 10 s: the gypsum is behind
    _run(chamber, 20.0, EVACUATE)
    assert chamber.flask_mbar < 20.0  # 30 s: "full vacuum inside the gypsum in ~30 s" (§C.2)


def test_flask_only_exists_while_present() -> None:
    chamber = ChamberModel(flask_present=False)
    _run(chamber, 10.0, EVACUATE)
    assert chamber.flask_mbar == chamber.chamber_mbar
    chamber.flask_present = True
    assert chamber.flask_mbar == chamber.chamber_mbar  # put in at chamber pressure


def test_a_leak_raises_the_pressure_when_isolated_and_when_the_pump_stops() -> None:
    tight, leaky = ChamberModel(), ChamberModel()
    for model in (tight, leaky):
        _run(model, 60.0, EVACUATE)
    leaky.leak_mbar_l_per_s = 50.0
    _run(leaky, 30.0, EVACUATE)
    assert 8.0 < leaky.chamber_mbar < 15.0  # pump holds ultimate + leak / speed
    for model in (tight, leaky):
        _run(model, 60.0, HOLD)  # chamber valve closed
    assert tight.chamber_mbar < 3.0
    assert leaky.chamber_mbar > 120.0  # 50 mbar·L/s for 60 s into 20 L
    stopped = ChamberModel(ChamberParams(leak_mbar_l_per_s=50.0))
    _run(stopped, 60.0, EVACUATE)
    before = stopped.chamber_mbar
    _run(stopped, 10.0, {**EVACUATE, "pump_on": False})
    assert stopped.chamber_mbar > before + 20.0


def test_vent_returns_to_atmosphere_fast_and_argon_gives_overpressure() -> None:
    chamber = ChamberModel()
    _run(chamber, 60.0, EVACUATE)
    _run(chamber, 6.0, VENT)
    assert chamber.chamber_mbar > 1000.0
    _run(chamber, 60.0, ARGON)
    params = ChamberParams()
    assert params.atmosphere_mbar + 400.0 < chamber.chamber_mbar <= params.argon_supply_mbar


def test_one_long_step_matches_many_short_ones() -> None:
    fine, coarse = ChamberModel(), ChamberModel()
    _run(fine, 30.0, EVACUATE, dt=0.01)
    coarse.step(30.0, **EVACUATE)
    assert abs(fine.chamber_mbar - coarse.chamber_mbar) < 1.0
    assert abs(fine.flask_mbar - coarse.flask_mbar) < 1.0


@given(
    st.lists(
        st.tuples(
            st.floats(0.0, 120.0),
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.booleans(),
            st.floats(0.0, 5000.0),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_pressures_stay_between_ultimate_and_argon_supply(
    steps: list[tuple[float, bool, bool, bool, bool, float]], flask: bool
) -> None:
    chamber = ChamberModel(flask_present=flask)
    p = chamber.params
    for dt, pump, valve, vent, argon, leak in steps:
        chamber.leak_mbar_l_per_s = leak
        chamber.step(dt, pump_on=pump, chamber_valve=valve, vent_valve=vent, argon_valve=argon)
        for pressure in (chamber.chamber_mbar, chamber.flask_mbar):
            assert p.ultimate_mbar <= pressure <= p.argon_supply_mbar


# ---------------------------------------------------------------------------- arm


def _spin_up(arm: ArmModel, target_hz: float, rate_hz_s: float, seconds: float) -> float:
    hz = 0.0
    for _ in range(round(seconds / 0.1)):
        hz = min(target_hz, hz + rate_hz_s * 0.1)
        arm.step(0.1, output_hz=hz)
    return hz


def test_arm_follows_the_ramp_to_just_below_synchronous_speed() -> None:
    arm = ArmModel()
    _spin_up(arm, 20.0, 6.0, 2.0)
    assert 150.0 < arm.rpm < 360.0  # 12 Hz after 2 s: synchronous 360 rpm, slip to accelerate
    _spin_up(arm, 20.0, 6.0, 10.0)
    sync = ArmParams().sync_rpm(20.0)
    assert sync - 60.0 < arm.rpm < sync  # slip under friction and drag
    assert 27.0 < arm.rpm / 20.0 < 30.0  # ~29 rpm/Hz, labctl's default rpm_per_hz


def test_arm_coasts_down_with_the_output_off_and_brakes_faster_on_0_hz() -> None:
    coasting, braked = ArmModel(), ArmModel()
    for arm in (coasting, braked):
        _spin_up(arm, 20.0, 6.0, 10.0)
    last = coasting.rpm
    seconds = 0
    while coasting.rpm > 0.0:
        coasting.step(1.0, output_hz=None)
        braked.step(1.0, output_hz=0.0)
        assert coasting.rpm < last
        assert coasting.motor_torque_nm == 0.0
        last = coasting.rpm
        seconds += 1
    assert 15 < seconds < 90, seconds
    assert braked.rpm == 0.0
    coasting.step(10.0, output_hz=None)
    assert coasting.rpm == 0.0  # friction holds it at rest


@given(st.lists(st.tuples(st.floats(0.0, 30.0), st.none() | st.floats(0.0, 120.0)), max_size=40))
def test_arm_speed_is_never_negative_nor_above_synchronous(
    steps: list[tuple[float, float | None]],
) -> None:
    arm = ArmModel()
    top = 0.0
    for dt, hz in steps:
        arm.step(dt, output_hz=hz)
        top = max(top, arm.params.sync_rpm(hz or 0.0))
        assert 0.0 <= arm.rpm <= top + 1e-9
