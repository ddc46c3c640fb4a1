"""The crucible model with plain numbers: melting plateau, melt fraction, limits, faults."""

from __future__ import annotations

import pytest

from drivers._sim.plant.crucible import CrucibleModel


def _time_across(model: CrucibleModel, low: float, high: float, power: float) -> float:
    """Seconds the charge takes from ``low`` to ``high`` at constant power (1 s steps)."""
    t, start = 0, None
    while model.metal_c < high:
        model.step(power, 1.0)
        t += 1
        if start is None and model.metal_c >= low:
            start = t
        assert t < 7200, "never got there"
    assert start is not None
    return t - start


@pytest.mark.parametrize("power", [1.0, 0.6])
def test_melting_plateau_is_much_longer_than_the_same_span_without_latent_heat(power):
    with_latent = _time_across(CrucibleModel(), 900.0, 930.0, power)
    without = _time_across(CrucibleModel(latent_heat_j_per_g=0.0), 900.0, 930.0, power)
    assert with_latent > 3 * without


def test_melt_fraction_rises_monotonically_while_heating_and_only_in_the_range():
    model = CrucibleModel()
    fractions: list[float] = []
    for _ in range(600):
        model.step(1.0, 1.0)
        fractions.append(model.melt_fraction)
        if model.metal_c < model.solidus_c:
            assert model.melt_fraction == 0.0
        if model.metal_c > model.liquidus_c:
            assert model.melt_fraction == 1.0
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any(0.0 < f < 1.0 for f in fractions)


def test_charge_solidifies_on_cooling():
    model = CrucibleModel()
    while model.melt_fraction < 1.0:
        model.step(1.0, 1.0)
    for _ in range(3600):
        model.step(0.0, 1.0)
    assert model.melt_fraction == 0.0
    assert model.metal_c < model.solidus_c


def test_never_exceeds_physics_limits():
    model = CrucibleModel()
    ceiling = model.max_temp_c()
    assert 1300 < ceiling < 1700  # a 3.5 kW gold caster, not a platinum furnace
    for _ in range(100):
        model.step(1.0, 60.0)
        assert 0.0 <= model.melt_fraction <= 1.0
        assert model.metal_c <= ceiling + 1e-6 and model.crucible_c <= ceiling + 1e-6
    assert model.metal_c == pytest.approx(ceiling, abs=1.0)
    for _ in range(300):
        model.step(0.0, 60.0)
        assert model.metal_c >= model.params.ambient_c - 1e-6
    assert model.metal_c == pytest.approx(model.params.ambient_c, abs=5.0)


def test_heater_failed_stalls_and_stuck_relay_heats_at_zero_output():
    model = CrucibleModel(start_c=500.0)
    model.heater_failed = True
    model.step(1.0, 300.0)
    assert model.metal_c < 500.0 and model.power_w == 0.0
    stuck = CrucibleModel(start_c=500.0)
    stuck.relay_stuck_on = True
    stuck.step(0.0, 300.0)
    assert stuck.metal_c > 700.0 and stuck.power_w == stuck.params.heater_power_w


def test_one_long_step_matches_many_short_ones():
    coarse, fine = CrucibleModel(), CrucibleModel()
    coarse.step(0.8, 300.0)
    for _ in range(300):
        fine.step(0.8, 1.0)
    assert coarse.metal_c == pytest.approx(fine.metal_c, abs=2.0)
    assert coarse.melt_fraction == pytest.approx(fine.melt_fraction, abs=0.05)


def test_pure_metal_melts_at_one_temperature():
    model = CrucibleModel(solidus_c=1064.0, liquidus_c=1064.0, latent_heat_j_per_g=64.0)
    seen_partial = False
    for _ in range(1200):
        model.step(1.0, 1.0)
        if 0.0 < model.melt_fraction < 1.0:
            seen_partial = True
            assert model.metal_c == pytest.approx(1064.0)
    assert seen_partial and model.melt_fraction == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"charge_g": 0.0}, {"latent_heat_j_per_g": -1.0}, {"solidus_c": 950.0, "liquidus_c": 900.0}],
)
def test_impossible_charges_are_refused(kwargs):
    with pytest.raises(ValueError):
        CrucibleModel(**kwargs)
