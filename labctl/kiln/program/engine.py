"""Setpoint generation: pure, stepped with the measured PV and the elapsed time.

Semantics the lab expects (DESIGN.md "Burnout programs"):

- Holdback: on a ramp or cool, when PV lags the program by more than ``holdback_band_c`` the
  program clock stops; a single holdback episode longer than ``holdback_limit_min`` is a fault.
- Guaranteed soak: a hold's timer runs only while PV is within ``soak_band_c`` of the target
  (time outside counts as holdback, with the same limit).
- Full-power heating (a ramp without rate) jumps the setpoint to the target and waits for PV
  (no holdback limit there: the heating-stall interlock catches a kiln that cannot get there).
- Loading temperature: a new run always begins at its first segment (a freshly invested flask
  must go through its dewax). A kiln hotter than the first segment's target by more than the
  holdback band is refused (:class:`TooHot`), or, when a person chooses it, first cools with the
  heat off to that temperature (phase ``cooling_to_load``) and then starts segment 1. Seeking
  into the schedule happens only when a run is resumed after a restart, from its stored state.

Here the host steps the program itself; where the controller's own programmer runs it, the host
follows the device instead (:mod:`labctl.kiln.program.programmer`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from labctl.profiles.segments import Cool, FinalHold, Hold, Ramp, Schedule, Segment, Step, describe


class Phase(enum.StrEnum):
    """Where the program is."""

    COOLING_TO_LOAD = "cooling_to_load"  # before segment 1: a hot kiln cools, heat off
    RUNNING = "running"
    FINAL_HOLD = "final_hold"


@dataclass(frozen=True, slots=True, kw_only=True)
class ProgramState:
    """Everything needed to continue the program (persisted every tick that matters)."""

    segment: int  # index into schedule.segments
    setpoint_c: float
    soaked_s: float = 0.0  # time in band in the current hold
    holdback_s: float = 0.0  # length of the current holdback episode
    holdback_total_s: float = 0.0
    phase: Phase = Phase.RUNNING


@dataclass(frozen=True, slots=True)
class Advance:
    """The result of one step: the new state, its setpoint, what happened, or a fault."""

    state: ProgramState
    setpoint_c: float
    events: tuple[str, ...] = ()
    fault: str | None = None


def segment_label(schedule: Schedule, index: int) -> str:
    """E.g. ``3/8 ramp to 371 °C at 150 °C/h``."""
    index = min(index, len(schedule.segments) - 1)
    return f"{index + 1}/{len(schedule.segments)} {describe(schedule.segments[index])}"


class TooHot(ValueError):
    """A new run on a kiln hotter than the schedule's loading temperature (plus the band)."""

    def __init__(self, schedule: Schedule, pv_c: float) -> None:
        self.load_c, self.pv_c = loading_temp_c(schedule), pv_c
        super().__init__(
            f"the kiln is at {pv_c:.0f} °C, {pv_c - self.load_c:.0f} °C above the loading "
            f"temperature of {schedule.name} ({self.load_c:.0f} °C, the target of its first "
            f"segment; band {schedule.holdback_band_c:.0f} °C): a freshly invested flask must "
            "start with its dewax"
        )


def loading_temp_c(schedule: Schedule) -> float:
    """The hottest a kiln may be when a run begins: the target of its first segment."""
    first = schedule.segments[0]
    assert isinstance(first, Ramp | Step)  # a Schedule's first segment (see segments._problem)
    return first.target_c


def begin(schedule: Schedule, pv_c: float, *, cool_first: bool = False) -> ProgramState:
    """A new run at segment 1, from PV; on a kiln too hot for that, cool first or TooHot."""
    if pv_c <= loading_temp_c(schedule) + schedule.holdback_band_c:
        return enter_segment(schedule, ProgramState(segment=0, setpoint_c=pv_c), 0)
    if not cool_first:
        raise TooHot(schedule, pv_c)
    return ProgramState(segment=0, setpoint_c=loading_temp_c(schedule), phase=Phase.COOLING_TO_LOAD)


def _cool_to_load(schedule: Schedule, state: ProgramState, pv: float) -> Advance:
    """Heat off (setpoint at the loading temperature) until PV is within the band of it."""
    load = loading_temp_c(schedule)
    if pv > load + schedule.holdback_band_c:
        return Advance(state, load)
    started = enter_segment(schedule, ProgramState(segment=0, setpoint_c=pv), 0)
    event = (
        f"kiln cooled to {pv:.0f} °C (loading temperature {load:.0f} °C): segment "
        f"{segment_label(schedule, 0)} started"
    )
    return Advance(started, started.setpoint_c, (event,))


def holdback(schedule: Schedule, state: ProgramState, dt: float, pv: float) -> Advance:
    """The program clock waits; past the limit, a fault in plain words."""
    waited = state.holdback_s + dt
    state = replace(state, holdback_s=waited, holdback_total_s=state.holdback_total_s + dt)
    limit_s = schedule.holdback_limit_min * 60.0
    if waited > limit_s:
        return Advance(
            state,
            state.setpoint_c,
            fault=(
                f"holdback exceeded {schedule.holdback_limit_min:.0f} min in "
                f"{segment_label(schedule, state.segment)}: PV {pv:.0f} °C stayed more than "
                f"{schedule.holdback_band_c:.0f} °C from the program setpoint "
                f"{state.setpoint_c:.0f} °C"
            ),
        )
    return Advance(state, state.setpoint_c)


def enter_segment(schedule: Schedule, state: ProgramState, index: int) -> ProgramState:
    """Segment ``index`` entered: timers at zero; a step or the final hold sets its target."""
    seg = schedule.segments[index]
    nxt = replace(state, segment=index, soaked_s=0.0, holdback_s=0.0)
    if isinstance(seg, FinalHold):
        return replace(nxt, setpoint_c=seg.target_c, phase=Phase.FINAL_HOLD)
    if isinstance(seg, Step):
        return replace(nxt, setpoint_c=seg.target_c)
    return nxt


def advance(schedule: Schedule, state: ProgramState, pv_c: float, dt_s: float) -> Advance:
    """Move the program ``dt_s`` seconds on, given the measured ``pv_c``."""
    if state.phase is Phase.COOLING_TO_LOAD:
        return _cool_to_load(schedule, state, pv_c)
    events: list[str] = []
    dt = max(dt_s, 0.0)
    for _ in range(2 * len(schedule.segments) + 2):  # bounded: each pass ends or advances
        if state.phase is Phase.FINAL_HOLD:
            break
        seg: Segment = schedule.segments[state.segment]
        done, state, dt, result = _run_segment(schedule, seg, state, pv_c, dt)
        if result is not None:
            return Advance(result.state, result.state.setpoint_c, tuple(events), result.fault)
        if not done:
            break
        state = enter_segment(schedule, state, state.segment + 1)
        events.append(f"segment {segment_label(schedule, state.segment)} started")
    return Advance(state, state.setpoint_c, tuple(events))


def _run_segment(
    schedule: Schedule, seg: Segment, state: ProgramState, pv: float, dt: float
) -> tuple[bool, ProgramState, float, Advance | None]:
    """(segment finished, state, time left over, holdback result or None)."""
    band = schedule.holdback_band_c
    sp = state.setpoint_c
    if isinstance(seg, Step):
        return True, replace(state, setpoint_c=seg.target_c), dt, None
    if isinstance(seg, Ramp) and seg.rate_c_per_h is None:
        sp = seg.target_c
        if pv < sp - band:  # heating flat out: no holdback limit, the stall interlock watches
            return False, replace(state, setpoint_c=sp), 0.0, None
        return True, replace(state, setpoint_c=sp, holdback_s=0.0), dt, None
    if isinstance(seg, Ramp | Cool):
        rate = seg.rate_c_per_h
        assert rate is not None
        up = seg.target_c > sp
        lag = (sp - pv) if up else (pv - sp)
        if lag > band:
            return False, state, 0.0, holdback(schedule, state, dt, pv)
        state = replace(state, holdback_s=0.0)
        gap = abs(seg.target_c - sp)
        reach_s = gap / rate * 3600.0
        if reach_s <= dt:
            return True, replace(state, setpoint_c=seg.target_c), dt - reach_s, None
        moved = rate * dt / 3600.0
        return False, replace(state, setpoint_c=sp + moved if up else sp - moved), 0.0, None
    if isinstance(seg, Hold):
        if abs(pv - sp) > schedule.soak_band_c:
            return False, state, 0.0, holdback(schedule, state, dt, pv)
        need = seg.duration_min * 60.0 - state.soaked_s
        if need <= dt:
            return (
                True,
                replace(state, soaked_s=seg.duration_min * 60.0, holdback_s=0.0),
                dt - need,
                None,
            )
        return False, replace(state, soaked_s=state.soaked_s + dt, holdback_s=0.0), 0.0, None
    return False, state, 0.0, None  # FinalHold: handled by the caller


def remaining_s(schedule: Schedule, state: ProgramState) -> float | None:
    """Nominal time to the final hold if every rate is achieved (0 once there).

    None while a hot kiln cools to its loading temperature: free cooling has no rate.
    """
    if state.phase is Phase.FINAL_HOLD:
        return 0.0
    if state.phase is Phase.COOLING_TO_LOAD:
        return None
    total, level = 0.0, state.setpoint_c
    for i in range(state.segment, len(schedule.segments)):
        seg = schedule.segments[i]
        if isinstance(seg, Ramp | Cool) and seg.rate_c_per_h is not None:
            total += abs(seg.target_c - level) / seg.rate_c_per_h * 3600.0
        elif isinstance(seg, Hold):
            total += seg.duration_min * 60.0 - (state.soaked_s if i == state.segment else 0.0)
        elif isinstance(seg, FinalHold):
            break
        level = getattr(seg, "target_c", level)
    return total


__all__ = [
    "Advance",
    "Phase",
    "ProgramState",
    "TooHot",
    "advance",
    "begin",
    "enter_segment",
    "holdback",
    "loading_temp_c",
    "remaining_s",
    "segment_label",
]
