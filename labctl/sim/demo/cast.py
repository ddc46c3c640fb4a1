"""The casting half of ``labctl demo``: melt, place the flask, cast, and say what happened.

Runs against the demo's in-process daemon and simulated caster. When the caster asks for the
flask, the demo technician takes it out of the kiln (completing the burnout) and places it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.ledger.certificate import (
    ENVELOPE,
    MANIFEST,
    PDF,
    PROOF,
    VKEY,
    CertificateError,
    verify_certificate,
)

PRINT_EVERY_S = 1.0
CERTIFICATE_FILES = (ENVELOPE, PROOF, VKEY, PDF, MANIFEST)


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
    start = {"caster": "caster1", "alloy": alloy, "piece_class": piece_class, "kiln": "kiln1"}
    try:
        reply = await registry.dispatch(
            "cast_start", {**start, "flask_id": "F-0007", "melt_id": "M-0031"}, who
        )
    except CommandRefused as refused:
        return f"not started: {refused.reason}"
    cast_id, t0, next_print = reply["cast_id"], clock.now(), 0.0
    print(f"cast {cast_id}: {alloy} ({piece_class}) on caster1, {sim.kind} casting")
    while True:
        await asyncio.sleep(0.02)
        status, wall = caster.snapshot.as_dict(), time.monotonic() - started
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


async def sign_records(
    registry: CommandRegistry, who: Caller, records: list[dict[str, Any]]
) -> None:
    """Sign the demo's lot, melt, job and flask records (each acknowledged after its commit)."""
    for rec in records:
        reply = await registry.dispatch("ledger_record", rec, who)
        print(f"ledger: {reply['kind']} {reply['id']} signed at index {reply['index']}")


async def certify(
    registry: CommandRegistry, who: Caller, cast_id: object, keep: Path | None
) -> bool:
    """Export the cast's certificate and verify it as a customer would: only with log.vkey."""
    reply = await registry.dispatch("ledger_export", {"cast_id": f"cast-{cast_id}"}, who)
    directory = Path(str(reply["certificate"]))
    if keep is not None:
        directory = Path(await asyncio.to_thread(shutil.copytree, directory, keep))
    try:
        verified = await asyncio.to_thread(verify_certificate, directory)
    except CertificateError as err:
        print(f"certificate: FAILED: {err}")
        return False
    print(
        f"certificate: {directory} ({', '.join(CERTIFICATE_FILES)})\n"
        f"certificate verified with only log.vkey: {verified.subject} is entry {verified.index} "
        f"of {verified.origin} (tree size {verified.tree_size}), signed by {verified.signed_by[0]}"
    )
    return True


async def _place_flask(
    registry: CommandRegistry, who: Caller, sim: CasterRigSim, wall: float, step: str
) -> None:
    print(f"[{wall:5.1f}s] the caster waits for {step}: technician takes the flask from kiln1")
    await registry.dispatch("take_flask", {"kiln": "kiln1"}, who)
    sim.io.flask_present = True
