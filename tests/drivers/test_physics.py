"""KilnThermalModel in virtual time (devices.md §G.13: chamber leads, flask core lags)."""

from __future__ import annotations

import pytest

from drivers._sim.plant.physics import KilnParams, KilnThermalModel


def _minutes_to(kiln: KilnThermalModel, target_c: float, limit_min: int = 600) -> int:
    for minute in range(1, limit_min + 1):
        kiln.step(1.0, 60.0)
        if kiln.chamber_c >= target_c:
            return minute
    raise AssertionError(f"never reached {target_c} °C")


def test_starts_at_ambient_or_given_temperature() -> None:
    assert KilnThermalModel().chamber_c == KilnParams().ambient_c
    warm = KilnThermalModel(start_c=150.0, flask="small")
    assert warm.element_c == warm.chamber_c == warm.flask_core_c == 150.0


def test_full_power_reaches_700_c_in_under_two_hours() -> None:
    kiln = KilnThermalModel(flask="large")
    minutes = _minutes_to(kiln, 700.0)
    assert 60 < minutes < 120, minutes


def test_heating_rate_near_room_temperature_is_about_ten_c_per_min() -> None:
    kiln = KilnThermalModel(flask="large")
    kiln.step(1.0, 300.0)  # let the element warm up
    before = kiln.chamber_c
    kiln.step(1.0, 60.0)
    assert 6.0 < kiln.chamber_c - before < 12.0


def test_full_power_levels_off_between_1000_and_1100_c() -> None:
    kiln = KilnThermalModel(flask="none")
    kiln.step(1.0, 12 * 3600.0)
    assert 1000.0 < kiln.chamber_c < 1100.0


def test_a_150_c_per_h_ramp_is_achievable_up_to_750_c() -> None:
    kiln = KilnThermalModel(flask="large", start_c=740.0)
    kiln.step(1.0, 300.0)  # the element catches up
    start = kiln.chamber_c
    kiln.step(1.0, 600.0)
    assert (kiln.chamber_c - start) * 6 > 150.0  # °C per hour at full power


@pytest.mark.parametrize("flask", ["small", "large"])
def test_core_lags_the_chamber_during_a_ramp_and_converges_on_a_hold(flask: str) -> None:
    kiln = KilnThermalModel(flask="large" if flask == "large" else "small")
    lags = []
    while kiln.chamber_c < 500:
        kiln.step(0.6, 60.0)
        assert kiln.flask_core_c < kiln.chamber_c < kiln.element_c
        lags.append(kiln.chamber_c - kiln.flask_core_c)
    assert max(lags) > 20.0
    # hold: balance the wall loss exactly so the chamber stays put
    for _ in range(5 * 60):
        error = 500.0 - kiln.chamber_c
        frac = (kiln.wall_loss_w(kiln.chamber_c) + 200.0 * error) / kiln.params.heater_power_w
        kiln.step(frac, 60.0)
    assert abs(kiln.chamber_c - 500.0) < 3.0
    assert abs(kiln.flask_core_c - kiln.chamber_c) < 3.0


def test_large_flask_lags_more_than_small() -> None:
    big, small = KilnThermalModel(flask="large"), KilnThermalModel(flask="small")
    for _ in range(60):
        big.step(0.8, 60.0)
        small.step(0.8, 60.0)
    assert big.chamber_c - big.flask_core_c > small.chamber_c - small.flask_core_c + 20.0


def test_no_flask_core_reads_the_chamber() -> None:
    kiln = KilnThermalModel(flask="none")
    kiln.step(1.0, 1800.0)
    assert kiln.flask_core_c == kiln.chamber_c > 100.0


def test_stable_and_consistent_for_dt_1_s_and_120_s() -> None:
    fine, coarse = KilnThermalModel(), KilnThermalModel()
    for hour in range(6):
        frac = 1.0 if hour < 3 else 0.2
        for _ in range(3600):
            fine.step(frac, 1.0)
        for _ in range(30):
            coarse.step(frac, 120.0)
        assert abs(fine.chamber_c - coarse.chamber_c) < 2.0
        assert abs(fine.flask_core_c - coarse.flask_core_c) < 2.0
        assert abs(fine.element_c - coarse.element_c) < 5.0
    assert fine.time_s == coarse.time_s == 6 * 3600.0


def test_one_huge_step_is_stable() -> None:
    kiln = KilnThermalModel()
    kiln.step(1.0, 24 * 3600.0)
    assert 1000.0 < kiln.chamber_c < 1100.0


def test_cooling_with_output_zero_goes_towards_ambient() -> None:
    kiln = KilnThermalModel(start_c=700.0)
    kiln.step(0.0, 3600.0)
    assert 20.0 < kiln.chamber_c < 650.0
    assert kiln.flask_core_c > kiln.chamber_c  # the core keeps its heat longer


def test_stuck_relay_heats_with_output_zero() -> None:
    kiln = KilnThermalModel()
    kiln.relay_stuck_on = True
    assert kiln.faults.relay_stuck_on
    for _ in range(60):
        kiln.step(0.0, 60.0)
    assert kiln.chamber_c > 300.0
    assert kiln.power_w == kiln.params.heater_power_w


def test_failed_heater_does_not_heat() -> None:
    kiln = KilnThermalModel(start_c=400.0)
    kiln.faults.heater_failed = True
    assert kiln.heater_failed
    for _ in range(60):
        kiln.step(1.0, 60.0)
    assert kiln.chamber_c < 400.0
    assert kiln.power_w == 0.0


def test_output_is_clamped() -> None:
    kiln = KilnThermalModel()
    assert kiln.heater_power_w(2.0) == kiln.params.heater_power_w
    assert kiln.heater_power_w(-1.0) == 0.0
    assert kiln.heater_power_w(float("nan")) == 0.0
