"""Caster commands in the shared registry: start a cast, confirm a step, abort.

A start names the alloy, the piece class and the kiln the flask comes from: the flask must be
at the alloy's casting temperature for that piece class (within the caster's tolerance), and
the alloy must fit the caster (crucible limit, casting method), or the start is refused. In a
lab with a ledger, the chain lot -> melt -> flask -> cast is checked too (``ledger.chain``),
under one lock with the start, so two starts cannot both take the same flask or melt. A start
with an idempotency key that was already answered answers the same and starts nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, Protocol

from pydantic import Field

from labctl.cast.params import CastRefused, cast_params
from labctl.cast.runner import CasterRunner
from labctl.cast.summary import CastOrigin
from labctl.commands.idempotency import IdempotencyKey, Keys, MemoryKeys, once, repeated
from labctl.commands.registry import NAME, Caller, CommandRefused, CommandRegistry, Id, Payload
from labctl.config.users import Role
from labctl.kiln.snapshot import KilnSnapshot
from labctl.profiles.alloys import Alloy, AlloyUnusable, load_alloy_named


class CastLedger(Keys, Protocol):
    """What a cast start asks of the ledger (when the site has one); it keeps the keys too."""

    async def check_origin(self, origin: CastOrigin, alloy: Alloy) -> None:
        """CommandRefused unless the chain lot -> melt -> flask allows a cast of ``alloy``."""


class CasterPayload(Payload):
    """A command addressed to one caster."""

    caster: str = Field(pattern=NAME)


class CastStartPayload(CasterPayload):
    """Start a cast of ``alloy`` for ``piece_class`` pieces, flask from ``kiln``."""

    alloy: str = Field(pattern=NAME)
    piece_class: Literal["thin", "medium", "heavy"]
    kiln: str = Field(pattern=NAME)
    flask_id: Id | None = None  # required when the lab keeps a ledger
    melt_id: Id | None = None
    idempotency_key: str | None = IdempotencyKey


class ConfirmPayload(CasterPayload):
    """A person confirms the step the caster waits for."""

    step: Literal["flask_placed", "balance_confirmed"]


class CastAbortPayload(CasterPayload):
    """Abort the cast; every device to its safe state."""

    reason: str = Field(default="", max_length=200)


def register_caster_commands(
    registry: CommandRegistry,
    casters: Mapping[str, CasterRunner],
    kilns: Callable[[str], KilnSnapshot | None],
    profiles_dir: Path,
    ledger: CastLedger | None = None,
) -> None:
    """Register every caster command against ``casters``; ``kilns`` gives a kiln's snapshot."""
    checking = asyncio.Lock()  # one chain check at a time, each ending in a reservation
    starting: dict[str, str] = {}  # flask and melt ids being started -> the caster
    retrying: dict[str, asyncio.Lock] = {}  # idempotency keys in flight
    keys: Keys = ledger if ledger is not None else MemoryKeys()

    def runner(name: str) -> CasterRunner:
        try:
            return casters[name]
        except KeyError:
            known = ", ".join(sorted(casters)) or "none"
            raise CommandRefused(f"no caster named {name!r}; casters here: {known}") from None

    async def start(p: CastStartPayload, who: Caller) -> Mapping[str, object]:
        content = p.model_dump(exclude={"idempotency_key"})
        request = once("cast_start", p.idempotency_key, content, {})
        lock = (
            asyncio.Lock() if request is None else retrying.setdefault(request.key, asyncio.Lock())
        )
        async with lock:
            seen = None if request is None else await keys.recall(request.key)
            if request is not None and seen is not None:
                again = repeated(request, seen)
                if not again.same:
                    raise CommandRefused(str(again))
                return again.answer
            answer = await _start(p, who)
            if request is not None:
                await keys.remember(dataclasses.replace(request, answer=answer))
            return answer

    async def _start(p: CastStartPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.caster)
        try:
            alloy = load_alloy_named(profiles_dir, p.alloy)
        except AlloyUnusable as err:
            raise CommandRefused(str(err)) from err
        try:
            params = cast_params(alloy, p.piece_class, r.limits)
        except CastRefused as err:
            raise CommandRefused(f"{p.caster}: {err.reason}") from err
        kiln = kilns(p.kiln)
        if kiln is None:
            raise CommandRefused(f"no kiln named {p.kiln!r}")
        if kiln.pv_c is None:
            raise CommandRefused(f"{p.kiln}: no valid temperature; cannot check the flask")
        off = kiln.pv_c - params.flask_temp_c
        if abs(off) > r.limits.flask_tolerance_c:
            raise CommandRefused(
                f"the flask in {p.kiln} is at {kiln.pv_c:.0f} °C; {alloy.name} {p.piece_class} "
                f"pieces need {params.flask_temp_c:.0f} ± {r.limits.flask_tolerance_c:.0f} °C"
            )
        origin = CastOrigin(
            kiln=p.kiln,
            flask_c=kiln.pv_c,
            burnout_profile=kiln.profile,
            flask_id=p.flask_id,
            melt_id=p.melt_id,
        )
        if ledger is not None:
            async with checking:
                await ledger.check_origin(origin, alloy)
                ids = [i for i in (p.flask_id, p.melt_id) if i is not None]
                other = next((i for i in ids if starting.get(i, p.caster) != p.caster), None)
                if other is not None:
                    raise CommandRefused(f"{other} is being started on {starting[other]}")
                starting.update(dict.fromkeys(ids, p.caster))
            try:  # once the run is created, the check finds it in the run store
                return await r.submit(lambda: r.start(params, who.name, origin))
            finally:
                for i in ids:
                    if starting.get(i) == p.caster:
                        del starting[i]
        return await r.submit(lambda: r.start(params, who.name, origin))

    async def confirm(p: ConfirmPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.caster)
        return await r.submit(lambda: r.confirm(p.step, who.name))

    async def abort(p: CastAbortPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.caster)
        return await r.submit(lambda: r.abort(who.name, p.reason))

    async def reset_drive(p: CasterPayload, who: Caller) -> Mapping[str, object]:
        r = runner(p.caster)
        return await r.submit(lambda: r.reset_drive_fault(who.name))

    tech = Role.TECHNICIAN
    registry.register("cast_start", CastStartPayload, tech, start, "start a cast on a caster")
    registry.register("cast_confirm", ConfirmPayload, tech, confirm, "confirm a caster step")
    registry.register("cast_abort", CastAbortPayload, tech, abort, "abort a cast; all safe")
    registry.register(
        "cast_reset_drive", CasterPayload, tech, reset_drive, "clear a stopped drive's fault code"
    )
