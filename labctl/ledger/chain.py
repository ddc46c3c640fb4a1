"""The chain lot -> melt -> flask -> cast, checked where a cast is started (and so signed).

A cast is refused unless its flask and melt are recorded (as last corrected), the melt is of the
alloy chosen and at least its fineness in its metal (a richer mix is alloyed down with master
alloy, which a melt does not list as a lot), every job on the flask is in that alloy, and
neither the flask nor the melt was cast before.

"Cast before" means an earlier cast that completed, or that got as far as a person confirming
the flask placed (or the arm balanced): its flask is spent and its metal poured. A cast that
ended before that (refused preflight, a melt that never got hot) leaves both for another try.
A running cast always holds its flask and melt. Lots carry no balance yet, so a melt is cast
once: there is no "metal left" to cast from it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from labctl.cast.summary import CastOrigin
from labctl.commands.registry import CommandRefused
from labctl.ledger.metal import Melt
from labctl.ledger.records import JobTicket, TreeFlask
from labctl.ledger.service import LedgerService, predicate_of
from labctl.profiles.alloys import Alloy
from labctl.runs.state import OutcomeKind
from labctl.runs.store import RunStore


def spent(outcome_complete: bool, confirmations: object) -> bool:
    """Whether a cast used up its flask and melt (see the module docstring)."""
    return outcome_complete or bool(confirmations)


async def check_origin(
    service: LedgerService, store: RunStore | None, origin: CastOrigin, alloy: Alloy
) -> None:
    """CommandRefused, with the reason, unless a cast of ``alloy`` may start from ``origin``."""
    for subject, what in ((origin.flask_id, "flask"), (origin.melt_id, "melt")):
        if subject is None:
            raise CommandRefused(f"this lab keeps a ledger: give the {what} id (--{what}-id)")
    assert origin.flask_id is not None
    assert origin.melt_id is not None
    flask = TreeFlask.from_predicate(await _current(service, "tree-flask", origin.flask_id))
    melt = Melt.from_predicate(await _current(service, "melt", origin.melt_id))
    want = f"{alloy.name} ({alloy.metal} {alloy.fineness_ppt} ‰)"
    if melt.alloy != alloy.name:
        raise CommandRefused(f"melt {melt.melt_id} is {melt.alloy}; this cast is {want}")
    sums = melt.sums
    fineness = sums.fineness_ppt(alloy.metal) if alloy.metal in sums.fine_ug else 0
    if fineness < alloy.fineness_ppt:
        raise CommandRefused(
            f"melt {melt.melt_id} is {fineness} ‰ {alloy.metal}; this cast is {want}"
        )
    for job_id in flask.job_ids:
        job = JobTicket.from_predicate(await _current(service, "job-ticket", job_id))
        if job.alloy != alloy.name:
            raise CommandRefused(
                f"flask {flask.flask_id} holds job {job_id} in {job.alloy}; this cast is {want}"
            )
    for field, value in (("flask", flask.flask_id), ("melt", melt.melt_id)):
        await _not_cast(service, store, field, value)


async def _current(service: LedgerService, kind: str, subject: str) -> Mapping[str, Any]:
    found = await service.current(kind, subject)
    if found is None:
        what = kind.removeprefix("tree-").replace("-ticket", "")
        raise CommandRefused(f"{what} {subject} is not in the ledger; record it first")
    return found[1]


async def _not_cast(service: LedgerService, store: RunStore | None, field: str, value: str) -> None:
    for entry in await service.referring("cast-record", field, value):
        cast = predicate_of(entry.leaf)
        if spent(cast["process"]["outcome"] == "complete", cast["confirmations"]):
            raise CommandRefused(
                f"{field} {value} was already cast: {cast['cast_id']} "
                f"({cast['process']['outcome']}, ledger index {entry.index})"
            )
    if store is None:
        return
    for run in await store.runs_by_json(f"$.origin.{field}_id", value):
        if run.outcome is None:
            raise CommandRefused(
                f"{field} {value} is in cast {run.id} on {run.kiln}, still running"
            )
        confirmations = json.loads(run.state_json).get("confirmations")
        if spent(run.outcome.kind is OutcomeKind.COMPLETED, confirmations):
            raise CommandRefused(f"{field} {value} was already cast: cast-{run.id} ({run.outcome})")
