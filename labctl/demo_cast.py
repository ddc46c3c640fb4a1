"""The casting half of ``labctl demo``: melt, place the flask, cast, and say what happened.

Runs against the demo's in-process daemon and simulated caster. When the caster asks for the
flask, the demo technician takes it out of the kiln (completing the burnout) and places it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from labctl.cast.runner import CasterRunner
from labctl.commands import Caller, CommandRefused, CommandRegistry

PRINT_EVERY_S = 1.0


def _line(status: dict[str, object], sim: CasterRigSim, wall_s: float) -> str:
    crucible = status.get("crucible_c")
    parts = [
        f"[{wall_s:5.1f}s] {status['state']:<14}",
        "crucible    —   " if crucible is None else f"crucible {crucible:6.1f}°C",
        f"melted {sim.crucible.melt_fraction * 100:3.0f}%",
    ]
    if sim.gauge is not None:
        parts.append(f"chamber {sim.chamber.chamber_mbar:6.1f} mbar")
        parts.append(f"flask {sim.chamber.flask_mbar:6.1f} mbar")
    if sim.drive is not None:
        parts.append(f"arm {sim.drive.arm.rpm:5.0f} rpm")
    return "  ".join(parts)


async def run_cast(
    *,
    registry: CommandRegistry,
    caster: CasterRunner,
    sim: CasterRigSim,
    clock: ScaledClock,
    who: Caller,
    alloy: str,
    piece_class: Literal["thin", "medium", "heavy"],
    started: float,
) -> str:
    """Start a cast of ``alloy`` with the flask from ``kiln1``; returns its outcome."""
    try:
        reply = await registry.dispatch(
            "cast_start",
            {"caster": "caster1", "alloy": alloy, "piece_class": piece_class, "kiln": "kiln1"},
            who,
        )
    except CommandRefused as refused:
        return f"not started: {refused.reason}"
    cast_id, t0, next_print = reply["cast_id"], clock.now(), 0.0
    print(f"cast {cast_id}: {alloy} ({piece_class}) on caster1, {sim.kind} casting")
    while True:
        await asyncio.sleep(0.02)
        status, wall = caster.status(), time.monotonic() - started
        if wall >= next_print:
            print(_line(status, sim, wall), flush=True)
            next_print = wall + PRINT_EVERY_S
        if status["state"] == "idle":
            break
        step = status.get("waiting_for")
        if step is not None and not sim.io.flask_present:
            await _place_flask(registry, who, sim, wall, str(step))
        if step is not None and status.get("flask_present"):
            print(f"[{wall:5.1f}s] technician confirms: {step}")
            await registry.dispatch("cast_confirm", {"caster": "caster1", "step": step}, who)
    print(f"cast {cast_id}: {status['outcome']} ({(clock.now() - t0) / 60:.1f} simulated min)")
    return str(status["outcome"])


async def _place_flask(
    registry: CommandRegistry, who: Caller, sim: CasterRigSim, wall: float, step: str
) -> None:
    print(f"[{wall:5.1f}s] the caster waits for {step}: technician takes the flask from kiln1")
    await registry.dispatch("take_flask", {"kiln": "kiln1"}, who)
    sim.io.flask_present = True
