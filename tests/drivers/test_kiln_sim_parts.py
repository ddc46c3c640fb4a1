"""Simulator parts in virtual time: kiln physics, the controller's PID, the 3216P programmer."""

from __future__ import annotations

from drivers._sim.plant.physics import KilnThermalModel
from drivers._sim.plant.pid import Pid
from drivers.eurotherm3200.programmer import Programmer, ProgramSegment
from drivers.eurotherm3200.registers import TStat


def test_full_power_heats_realistically_and_core_lags() -> None:
    kiln = KilnThermalModel(flask="large")
    minutes = 0
    while kiln.chamber_c < 700:
        kiln.step(1.0, 60)
        minutes += 1
        assert kiln.flask_core_c < kiln.chamber_c < kiln.element_c
    assert 45 < minutes < 150, minutes


def test_step_size_does_not_change_the_result() -> None:
    fine, coarse = KilnThermalModel(), KilnThermalModel()
    for _ in range(3600):
        fine.step(0.6, 1.0)
    for _ in range(30):
        coarse.step(0.6, 120.0)
    assert abs(fine.chamber_c - coarse.chamber_c) < 2.0
    assert abs(fine.flask_core_c - coarse.flask_core_c) < 2.0


def test_stuck_relay_heats_and_failed_heater_does_not() -> None:
    stuck, failed = KilnThermalModel(), KilnThermalModel()
    stuck.relay_stuck_on, failed.heater_failed = True, True
    for _ in range(60):
        stuck.step(0.0, 60)
        failed.step(1.0, 60)
    assert stuck.chamber_c > 300
    assert failed.chamber_c < 21


def test_pid_tracks_a_ramp_and_holds_without_big_overshoot() -> None:
    kiln, pid, sp = KilnThermalModel(flask="large"), Pid(), 20.0
    t, worst = 0.0, 0.0
    while sp < 730:
        sp = min(730.0, sp + 150 / 3600 * 5)
        kiln.step(pid.update(sp, kiln.chamber_c, 5) / 100, 5)
        t += 5
        if t > 600:
            worst = max(worst, abs(sp - kiln.chamber_c))
    peak = 0.0
    for _ in range(1440):
        kiln.step(pid.update(730, kiln.chamber_c, 5) / 100, 5)
        peak = max(peak, kiln.chamber_c)
    assert worst < 10
    assert peak < 745
    assert abs(kiln.chamber_c - 730) < 1
    assert kiln.flask_core_c > 715


def _program(*segs: tuple[float, float, float], holdback: float = 0.0) -> Programmer:
    prog = Programmer()
    padded = [ProgramSegment(*s) for s in segs]
    padded += [ProgramSegment(segs[-1][0], 0, 0)] * (8 - len(segs))
    prog.load(padded, holdback_c=holdback, end_type=1)
    return prog


def test_programmer_ramps_dwells_and_ends_in_dwell() -> None:
    prog = _program((300, 600, 10), (500, 0, 5))
    prog.run(20.0)
    assert prog.step(20.0, 60) == 30.0  # 600 °C/h for one minute
    sp = prog.setpoint_c
    for _ in range(60):
        sp = prog.step(sp, 60)
    assert prog.segment == 2
    assert sp == 500
    for _ in range(6):
        prog.step(500, 60)
    assert prog.tstat is TStat.END
    assert prog.step(500, 600) == 500


def test_programmer_holdback_hold_and_reset() -> None:
    prog = _program((300, 600, 10), holdback=10.0)
    prog.run(20.0)
    prog.step(20.0, 60)
    before = prog.setpoint_c
    assert prog.step(0.0, 600) == before  # PV 30 °C behind: the program waits
    prog.hold()
    assert prog.step(before, 600) == before
    assert prog.tstat is TStat.HOLD
    prog.resume()
    assert prog.step(before, 60) > before
    prog.reset()
    assert (prog.tstat, prog.segment) == (TStat.RESET, 0)
