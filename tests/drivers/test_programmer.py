"""The simulated 3216P programmer (devices.md §A.2): segments, holdback, hold, end, reset."""

from __future__ import annotations

import pytest

from drivers.eurotherm3200.programmer import (
    EndType,
    Programmer,
    ProgramSegment,
    TStat,
    used_segments,
)


def _program(
    *segs: tuple[float, float, float],
    holdback: float = 0.0,
    end: EndType = EndType.DWELL,
    sp2: float | None = None,
) -> Programmer:
    """Load ``segs`` padded to the 8 slots with unused segments (rate 0, dwell 0, same target)."""
    padded = [ProgramSegment(*s) for s in segs]
    padded += [ProgramSegment(segs[-1][0], 0, 0)] * (8 - len(segs))
    prog = Programmer()
    prog.load(padded, holdback_c=holdback, end_type=end, sp2_c=sp2)
    return prog


def _follow(prog: Programmer, seconds: float, dt: float = 60.0) -> float:
    """Step with PV equal to the program setpoint (a kiln that keeps up)."""
    sp = prog.setpoint_c
    for _ in range(round(seconds / dt)):
        sp = prog.step(sp, dt)
    return sp


def test_tstat_coding_is_the_3200s() -> None:
    assert [int(s) for s in (TStat.RESET, TStat.RUN, TStat.HOLD, TStat.END)] == [0, 1, 2, 3]
    assert [int(e) for e in EndType] == [0, 1, 2, 3]


def test_unused_segments_end_the_program() -> None:
    segs = [ProgramSegment(150, 150, 60), ProgramSegment(150, 0, 0), ProgramSegment(700, 100, 5)]
    assert used_segments(segs) == segs[:1]
    # a step to a new target with no dwell is a real segment
    segs[1] = ProgramSegment(300, 0, 0)
    assert len(used_segments(segs)) == 3
    assert len(_program((150, 150, 60), (730, 150, 60)).segments) == 2


def test_run_servos_to_pv_then_ramps_and_dwells() -> None:
    prog = _program((300, 600, 10), (500, 0, 5))
    assert prog.state.tstat is TStat.RESET
    prog.run(20.0)
    assert (prog.tstat, prog.segment, prog.setpoint_c) == (TStat.RUN, 1, 20.0)
    assert prog.step(20.0, 60) == pytest.approx(30.0)  # 600 °C/h for one minute
    _follow(prog, 27 * 60)  # ramp done at 28 min
    assert prog.setpoint_c == 300.0
    assert prog.state.ramping is False
    _follow(prog, 9 * 60)
    assert prog.segment == 1  # 10 min dwell not over yet
    _follow(prog, 2 * 60)
    assert (prog.segment, prog.setpoint_c) == (2, 500.0)  # rate 0: a step


def test_time_carries_over_across_segment_boundaries() -> None:
    """One big step gives the same result as many small ones."""
    segs = ((149, 150, 60), (371, 150, 60), (732, 150, 120))
    fine, coarse = _program(*segs), _program(*segs)
    fine.run(20.0)
    coarse.run(20.0)
    _follow(fine, 5 * 3600, dt=1.0)
    coarse.step(coarse.setpoint_c, 5 * 3600.0)
    assert fine.segment == coarse.segment == 3
    assert fine.setpoint_c == pytest.approx(coarse.setpoint_c)
    assert fine.state.dwell_elapsed_s == pytest.approx(coarse.state.dwell_elapsed_s, abs=1e-3)


def test_end_dwell_holds_the_last_target_in_state_3() -> None:
    prog = _program((300, 600, 10), (500, 0, 5))
    prog.run(20.0)
    _follow(prog, 28 * 60 + 10 * 60 + 5 * 60)
    assert prog.tstat is TStat.END
    assert prog.segment == 2
    assert prog.step(480.0, 3600) == 500.0
    assert prog.tstat is TStat.END
    assert not prog.output_off


def test_end_reset_goes_back_to_reset() -> None:
    prog = _program((100, 0, 1), end=EndType.RESET)
    prog.run(20.0)
    prog.step(100.0, 120)
    assert (prog.tstat, prog.segment) == (TStat.RESET, 0)


def test_end_sp2_and_off() -> None:
    sp2 = _program((100, 0, 1), end=EndType.SP2, sp2=50.0)
    sp2.run(20.0)
    assert sp2.step(100.0, 120) == 50.0
    assert sp2.tstat is TStat.END
    off = _program((100, 0, 1), end=EndType.OFF)
    off.run(20.0)
    off.step(100.0, 120)
    assert off.tstat is TStat.END
    assert off.output_off


def test_holdback_pauses_the_ramp() -> None:
    prog = _program((300, 600, 10), holdback=10.0)
    prog.run(20.0)
    prog.step(20.0, 60)
    before = prog.setpoint_c
    assert prog.step(0.0, 600) == before  # PV 30 °C behind: the program waits
    assert prog.state.held_back
    assert prog.step(before - 5.0, 60) > before  # within the band again: the ramp goes on
    assert not prog.state.held_back


def test_holdback_pauses_the_dwell() -> None:
    prog = _program((300, 0, 10), holdback=5.0)
    prog.run(300.0)
    prog.step(300.0, 5 * 60)
    for _ in range(60):  # the kiln falls 20 °C behind: the dwell clock stops
        prog.step(280.0, 60)
    assert prog.state.dwell_elapsed_s == pytest.approx(300.0)
    prog.step(298.0, 5 * 60)
    assert prog.tstat is TStat.END


def test_a_slow_kiln_makes_the_program_longer() -> None:
    """§G.13: with holdback, a kiln that cannot keep up stretches the cycle."""
    prog = _program((700, 600, 0), holdback=20.0)
    prog.run(20.0)
    pv, minutes = 20.0, 0
    while prog.tstat is TStat.RUN and minutes < 600:
        prog.step(pv, 60)
        pv = min(pv + 5.0, prog.setpoint_c)  # the kiln manages 300 °C/h
        minutes += 1
    assert prog.tstat is TStat.END
    assert minutes > 120  # nominal: 68 min


def test_hold_freezes_and_resume_continues() -> None:
    prog = _program((300, 600, 10))
    prog.run(20.0)
    prog.step(20.0, 60)
    before = prog.setpoint_c
    prog.hold()
    assert prog.tstat is TStat.HOLD
    assert prog.step(before, 600) == before
    prog.resume()
    assert prog.state.tstat is TStat.RUN
    assert prog.step(before, 60) > before


def test_run_from_hold_resumes_and_run_while_running_is_ignored() -> None:
    prog = _program((300, 600, 10))
    prog.run(20.0)
    prog.step(20.0, 600)
    sp = prog.setpoint_c
    prog.run(200.0)  # already running: no restart
    assert prog.setpoint_c == sp
    prog.hold()
    prog.run(200.0)  # from hold: resume, not restart
    assert (prog.tstat, prog.setpoint_c) == (TStat.RUN, sp)


def test_reset_and_rerun() -> None:
    prog = _program((300, 600, 10))
    prog.run(20.0)
    prog.step(20.0, 600)
    prog.reset()
    assert (prog.tstat, prog.segment) == (TStat.RESET, 0)
    sp = prog.setpoint_c
    assert prog.step(25.0, 600) == sp  # reset: the clock does not run
    prog.run(25.0)
    assert (prog.tstat, prog.segment, prog.setpoint_c) == (TStat.RUN, 1, 25.0)


def test_ramp_down_and_nothing_loaded() -> None:
    prog = _program((100, 600, 0))
    prog.run(200.0)
    assert prog.step(200.0, 60) == pytest.approx(190.0)
    empty = Programmer()
    empty.run(20.0)
    assert empty.tstat is TStat.RESET
