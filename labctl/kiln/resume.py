"""Whether a run found in the store after a restart may continue: a pure decision.

Both gates must pass (kiln-controller checks only the time, pico-kiln only the temperature):

1. the daemon was down for at most ``max_gap_s``, judged by wall time. A wall clock that is
   behind the last save (a Pi without a real-time clock boots with an old time) cannot tell
   how long the daemon was down, so it interrupts the run too;
2. there is a valid temperature reading, and the kiln is at most ``max_drop_c`` below the
   setpoint the program had when the state was saved. A kiln hotter than the program is left
   to the interlocks and the program's holdback.

Anything else ends the run as *interrupted: <reason>*, stated plainly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labctl.kiln.interlocks import format_c, format_duration


@dataclass(frozen=True, slots=True)
class Resume:
    """The run may continue from its saved state; ``down_s`` is how long the daemon was down."""

    down_s: float


@dataclass(frozen=True, slots=True)
class Interrupted:
    """The run must end as interrupted, for ``reason``."""

    reason: str

    def __str__(self) -> str:
        return f"interrupted: {self.reason}"


ResumeDecision = Resume | Interrupted


def decide_resume(
    *,
    saved_at_wall: float,
    now_wall: float,
    saved_setpoint_c: float,
    pv_c: float | None,
    max_gap_s: float,
    max_drop_c: float,
) -> ResumeDecision:
    """Decide whether a run may continue after the daemon restarted.

    Args:
        saved_at_wall: Unix time at which the run's state was last saved.
        now_wall: Unix time now.
        saved_setpoint_c: The program's setpoint when the state was saved.
        pv_c: The kiln temperature read after the restart, or None if there is no reading.
        max_gap_s: Longest tolerated downtime.
        max_drop_c: Largest tolerated drop of the kiln below the saved setpoint.

    Returns:
        :class:`Resume`, or :class:`Interrupted` with the reason for the technician.

    """
    down_s = now_wall - saved_at_wall
    if down_s < 0:
        return Interrupted(
            f"the system clock is {format_duration(-down_s)} behind the last saved state, "
            "so the time the daemon was down is unknown"
        )
    if down_s > max_gap_s:
        return Interrupted(
            f"the daemon was down for {format_duration(down_s)} "
            f"(limit {format_duration(max_gap_s)})"
        )
    if pv_c is None or not math.isfinite(pv_c):
        return Interrupted("no temperature reading after restart")
    drop_c = saved_setpoint_c - pv_c
    if drop_c > max_drop_c:
        return Interrupted(
            f"kiln cooled to {format_c(pv_c)}, {format_c(drop_c)} below the program setpoint "
            f"{format_c(saved_setpoint_c)} (limit {format_c(max_drop_c)})"
        )
    return Resume(down_s)
