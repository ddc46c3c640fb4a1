"""Programmer mode's side of the program: the schedule as the controller runs it, and following it.

In programmer mode the controller's own programmer runs the schedule (it keeps going if the
host dies), so the schedule is downloaded as the ramp/dwell pairs such a programmer knows, and
the host follows the device instead of stepping the program itself. The host still keeps the
holdback limit the device lacks, with the same arithmetic as the engine's own stepping.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from labctl.kiln.program.engine import (
    Advance,
    Phase,
    ProgramState,
    enter_segment,
    holdback,
    segment_label,
)
from labctl.profiles.segments import Cool, Hold, Ramp, Schedule, Step


@dataclass(frozen=True, slots=True)
class DeviceProgramSegment:
    """A ramp-then-dwell pair for a controller's programmer (rate None: step)."""

    target_c: float
    ramp_rate_c_per_h: float | None
    dwell_min: float


def _device_plan(schedule: Schedule) -> list[tuple[DeviceProgramSegment, int]]:
    """Ramp/dwell pairs, each with the index of the schedule segment it starts at."""
    out: list[tuple[DeviceProgramSegment, int]] = []
    for i, seg in enumerate(schedule.segments):
        if isinstance(seg, Hold):
            last, start_at = out[-1]
            if last.dwell_min > 0:
                out.append((DeviceProgramSegment(last.target_c, None, seg.duration_min), i))
            else:
                out[-1] = (replace(last, dwell_min=seg.duration_min), start_at)
        elif isinstance(seg, Ramp | Cool):
            out.append((DeviceProgramSegment(seg.target_c, seg.rate_c_per_h, 0.0), i))
        elif isinstance(seg, Step) or out[-1][0].target_c != seg.target_c:
            out.append((DeviceProgramSegment(seg.target_c, None, 0.0), i))
    return out


def to_device_segments(
    schedule: Schedule, *, max_segments: int
) -> tuple[DeviceProgramSegment, ...]:
    """Ramp/dwell pairs for a controller's programmer; the final hold is its end (dwell)."""
    plan = _device_plan(schedule)
    if len(plan) > max_segments:
        raise ValueError(
            f"needs {len(plan)} ramp/dwell segments, the programmer has {max_segments}"
        )
    return tuple(seg for seg, _ in plan)


def follow(
    schedule: Schedule,
    state: ProgramState,
    *,
    device_segment: int | None,
    device_sp_c: float,
    device_ended: bool,
    pv_c: float,
    dt_s: float,
) -> Advance:
    """Programmer mode: the controller runs the program, the host follows and supervises.

    The host's segment and setpoint come from the device (its segment number and working
    setpoint); the host keeps the holdback limit the device lacks: PV further than the band
    from the device's setpoint for longer than the limit is a fault.
    """
    plan = _device_plan(schedule)
    index = state.segment
    if device_ended:
        index = len(schedule.segments) - 1
    elif device_segment is not None and 1 <= device_segment <= len(plan):
        device_seg, index = plan[device_segment - 1]
        nxt = schedule.segments[index + 1] if index + 1 < len(schedule.segments) else None
        ramping = abs(device_sp_c - device_seg.target_c) > 0.05
        if not ramping and isinstance(nxt, Hold) and not isinstance(schedule.segments[index], Hold):
            index += 1
    events: tuple[str, ...] = ()
    if index != state.segment:
        state = enter_segment(schedule, state, index)
        events = (f"segment {segment_label(schedule, index)} started",)
    state = replace(state, setpoint_c=device_sp_c)
    if state.phase is Phase.RUNNING and abs(pv_c - device_sp_c) > schedule.holdback_band_c:
        result = holdback(schedule, state, dt_s, pv_c)
        return Advance(result.state, device_sp_c, events, result.fault)
    return Advance(replace(state, holdback_s=0.0), device_sp_c, events)


__all__ = ["DeviceProgramSegment", "follow", "to_device_segments"]
