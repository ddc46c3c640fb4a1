"""Why a kiln command is refused in the state it finds: pure, one function per command.

A person who repeats a command, or gives it out of order, gets an answer saying what the
kiln is doing ("already held by ana since 14:02"), never an error from deep inside.
"""

from __future__ import annotations

import time

from labctl.commands.registry import CommandRefused
from labctl.kiln.run import ActiveRun
from labctl.profiles.segments import Schedule
from labctl.runs.state import Phase
from labctl.runs.unstored import UnstoredOutcome


def recovering_text(kiln: str, run_id: int) -> str:
    """What a kiln waiting for its controller after a restart is doing."""
    return f"{kiln} is recovering run {run_id}: waiting for its controller"


def refuse_start(
    kiln: str,
    schedule: Schedule,
    *,
    limit_c: float,
    reachable: bool,
    unstored: UnstoredOutcome | None,
    unsafe: bool,
) -> None:
    """Refuse a start on an idle kiln that cannot take a run now."""
    if not reachable:
        raise CommandRefused(f"{kiln}: controller not reachable; check its link")
    if unstored is not None:
        raise CommandRefused(unstored.refusal())
    if unsafe:
        raise CommandRefused(f"{kiln}: heat-off not yet confirmed after the last fault")
    if schedule.max_temp_c > limit_c:
        raise CommandRefused(
            f"{schedule.name} goes to {schedule.max_temp_c:.0f} °C but {kiln} is limited to "
            f"{limit_c:.0f} °C"
        )


def refuse_hold(kiln: str, run: ActiveRun, held_since_wall: float | None) -> None:
    """Only a running program can be held."""
    if run.state.phase is Phase.HELD:
        since = "" if held_since_wall is None else f" since {hhmm(held_since_wall)}"
        raise CommandRefused(f"{kiln} is already held by {run.state.held_by}{since}")
    if run.state.phase is Phase.FINAL_HOLD:
        raise CommandRefused(
            f"{kiln} is at its final hold ({run.setpoint_c:.0f} °C), waiting for the flask: "
            "nothing to hold; take the flask or abort"
        )


def refuse_resume(kiln: str, run: ActiveRun) -> None:
    """Only a held program can be resumed."""
    if run.state.phase is not Phase.HELD:
        what = "at its final hold" if run.state.phase is Phase.FINAL_HOLD else "running"
        raise CommandRefused(f"{kiln} is already {what}; nothing to resume")


def refuse_take_flask(kiln: str, run: ActiveRun) -> None:
    """The flask is ready only at the final hold (the only way to a completed run)."""
    if run.state.phase is not Phase.FINAL_HOLD:
        state = "held" if run.state.phase is Phase.HELD else "running"
        raise CommandRefused(
            f"{kiln} has not reached its final hold ({state}, {run.segment}): the flask is not "
            "ready; abort to end the run early"
        )


def no_run(kiln: str, what: str, last_outcome: str | None) -> CommandRefused:
    """The refusal of a command that needs a run, on an idle kiln."""
    last = f" (last run: {last_outcome})" if last_outcome else ""
    return CommandRefused(f"cannot {what}: no burnout is running on {kiln}{last}")


def hhmm(wall: float) -> str:
    """Local clock time of a wall timestamp, as people say it."""
    return time.strftime("%H:%M", time.localtime(wall))
