"""The simulated 3216 PID on the kiln model: ramp tracking and holds (devices.md §E.1)."""

from __future__ import annotations

import pytest

from drivers._sim.plant.physics import KilnThermalModel
from drivers._sim.plant.pid import Pid

RATE_C_PER_H = 150.0
TARGET_C = 730.0


def _ramp_then_hold(flask: str, dt: float) -> tuple[float, float, KilnThermalModel]:
    kiln = KilnThermalModel(flask="large" if flask == "large" else "small")
    pid, sp, t, worst = Pid(), kiln.chamber_c, 0.0, 0.0
    while sp < TARGET_C:
        sp = min(TARGET_C, sp + RATE_C_PER_H / 3600 * dt)
        kiln.step(pid.update(sp, kiln.chamber_c, dt) / 100, dt)
        t += dt
        if t > 600:
            worst = max(worst, abs(sp - kiln.chamber_c))
    peak = kiln.chamber_c
    for _ in range(int(2 * 3600 / dt)):
        kiln.step(pid.update(TARGET_C, kiln.chamber_c, dt) / 100, dt)
        peak = max(peak, kiln.chamber_c)
    return worst, peak - TARGET_C, kiln


@pytest.mark.parametrize(("flask", "dt"), [("large", 5.0), ("small", 5.0), ("large", 30.0)])
def test_tracks_a_150_c_per_h_ramp_and_holds(flask: str, dt: float) -> None:
    worst, overshoot, kiln = _ramp_then_hold(flask, dt)
    assert worst < 10.0
    assert overshoot < 15.0
    assert abs(kiln.chamber_c - TARGET_C) < 1.0
    assert kiln.flask_core_c > TARGET_C - 15.0  # 2 h soak: the core has caught up


def test_default_tuning_tracks_within_5_c() -> None:
    worst, overshoot, _ = _ramp_then_hold("large", 1.0)
    assert worst < 5.0
    assert overshoot < 5.0


def test_output_limits_and_no_windup_after_saturation() -> None:
    kiln, pid = KilnThermalModel(), Pid()
    peak = 0.0
    for _ in range(4 * 360):  # a step to 500 °C: saturated for most of an hour
        out = pid.update(500.0, kiln.chamber_c, 10.0)
        assert 0.0 <= out <= 100.0
        kiln.step(out / 100, 10.0)
        peak = max(peak, kiln.chamber_c)
    assert peak < 510.0
    assert abs(kiln.chamber_c - 500.0) < 1.0


def test_derivative_on_pv_no_kick_on_setpoint_step() -> None:
    pid = Pid(pb_c=10.0, ti_s=0.0, td_s=100.0)
    pid.update(100.0, 100.0, 1.0)
    assert pid.update(102.0, 100.0, 1.0) == pytest.approx(20.0)  # pure P, no derivative kick
    assert pid.update(102.0, 101.0, 1.0) == pytest.approx(0.0)  # rising PV: D pulls back


def test_bumpless_return_from_manual() -> None:
    pid = Pid()
    pid.track(42.0)
    assert pid.update(300.0, 300.0, 1.0) == pytest.approx(42.0)


def test_rejects_a_zero_band() -> None:
    with pytest.raises(ValueError, match="PB"):
        Pid(pb_c=0.0)
