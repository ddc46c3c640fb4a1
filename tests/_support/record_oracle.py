"""Whether the signed records of a test lab agree with its run store and its telemetry.

The oracle of ``tests/labctl/machines/test_records_agree.py`` (the claims it checks are listed
there): :func:`record_problems` reads every record of the lab's ledger through its public API
(``LedgerService.latest``) and checks it against ``RunStore``'s public methods and the kiln
snapshots the lab published; each disagreement is one line naming the record. A record signed
while the store still refuses an outcome is checked against the outcome the machine holds to
store later.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from labctl.kiln.commands import JOB_EVENT
from labctl.ledger.service import predicate_of
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import Sample, StoredRun
from tests._support.lab import Lab
from tests._support.lab_site import CASTER, KILN

#: labctl.ledger.recorder: the outcome words of a cast record.
SIGNED_OUTCOME = {
    OutcomeKind.COMPLETED: "complete",
    OutcomeKind.ABORTED: "aborted",
    OutcomeKind.FAULTED: "fault",
    OutcomeKind.INTERRUPTED: "interrupted",
}
INTERRUPTED_NOTE = "; "  # an interrupted cast's detail: the stored outcome, then its note


@dataclass(frozen=True, slots=True)
class Signed:
    """One signed record: its ledger index and predicate."""

    index: int
    subject: str
    predicate: dict[str, Any]


async def signed_records(lab: Lab, kind: str) -> list[Signed]:
    entries = await lab.service.latest(kind, limit=10_000)
    return [Signed(e.index, e.subject, predicate_of(e.leaf)) for e in reversed(entries)]


def peak_of(samples: Iterable[Sample]) -> float | None:
    """labctl.ledger.burnout.Burnout.peak_c, recomputed: the highest PV of the samples."""
    return max((p for s in samples for p in (s[1], s[3]) if p is not None), default=None)


def _same_instant(signed: str, wall: float) -> bool:
    return datetime.fromisoformat(signed) == datetime.fromtimestamp(wall, UTC)


async def record_problems(lab: Lab) -> list[str]:
    """Every way a signed record disagrees with the run store or the telemetry (none: [])."""
    await lab.recorder.trips.drain()  # safety trips are signed by tasks of their own
    store = lab.store
    runs = {run.id: run for run in await store.history(limit=100_000)}
    problems: list[str] = []
    casts = await signed_records(lab, "cast-record")
    for cast in casts:
        problems += [f"{cast.subject}: {p}" for p in await cast_problems(lab, runs, cast)]
    signed_casts = {c.subject for c in casts}
    for run in runs.values():
        if run.kiln == CASTER and run.outcome is not None and f"cast-{run.id}" not in signed_casts:
            problems.append(f"cast-{run.id} ended {run.outcome} in the store but is not signed")
    trips = await signed_records(lab, "safety-trip")
    for trip in trips:
        problems += [f"{trip.subject}: {p}" for p in trip_problems(lab, runs, trip)]
    signed_trips = {t.subject for t in trips}
    for run in runs.values():
        faulted = run.outcome is not None and run.outcome.kind is OutcomeKind.FAULTED
        if run.kiln == KILN and faulted and f"{KILN}-run-{run.id}" not in signed_trips:
            problems.append(
                f"{KILN} run {run.id} ended {run.outcome} in the store: no safety-trip record"
            )
    return problems


def _pending_cast_outcome(lab: Lab, cast_id: int) -> Outcome | None:
    """The outcome the caster holds for ``cast_id`` while the store refuses it."""
    unstored = lab.caster._unstored
    return unstored.outcome if unstored is not None and unstored.run_id == cast_id else None


def _pending_kiln_outcome(lab: Lab, run_id: int) -> Outcome | None:
    """The outcome the kiln holds for ``run_id`` while the store refuses it."""
    unrecorded = lab.kiln._unstored
    if unrecorded is None or unrecorded.run_id != run_id:
        return None
    return unrecorded.outcome


async def cast_problems(lab: Lab, runs: dict[int, StoredRun], cast: Signed) -> list[str]:
    p, out = cast.predicate, []
    process = p["process"]
    try:
        cast_id = int(str(p["cast_id"]).removeprefix("cast-"))
    except ValueError:
        return [f"cast id {p['cast_id']!r} names no run"]
    run = runs.get(cast_id)
    if run is None or run.kiln != p["caster_id"]:
        return [f"signed for caster {p['caster_id']}, the store has {run}"]
    # the outcome: kind and reason
    stored = run.outcome or _pending_cast_outcome(lab, cast_id)
    if stored is None:
        out.append(f"signed {process['outcome']}; the store says the cast is still running")
    else:
        if process["outcome"] != SIGNED_OUTCOME[stored.kind]:
            out.append(f"signed {process['outcome']!r}, the store says {stored}")
        detail, told = process.get("outcome_detail", ""), str(stored)[:300]
        note = stored.kind is OutcomeKind.INTERRUPTED and detail.startswith(told + INTERRUPTED_NOTE)
        if detail != told and not note:
            out.append(f"signed outcome {detail!r}, the store says {told!r}")
    # who confirmed what, and when
    events = [e for e in await lab.store.events(cast_id) if e.kind == "confirmation"]
    told_by = [tuple(e.text.split(" confirmed by ", 1)) for e in events]
    signed_by = [(c["step"], c["by"]) for c in p["confirmations"]]
    if signed_by != told_by:
        out.append(f"signed confirmations {signed_by}, the store's events say {told_by}")
    saved = json.loads(run.state_json).get("confirmations", [])
    if [(s, b) for s, b, _ in saved] != signed_by or not all(
        _same_instant(c["at"], at) for c, (_, _, at) in zip(p["confirmations"], saved, strict=False)
    ):
        out.append(f"signed confirmations {p['confirmations']}, the stored state says {saved}")
    out += await burnout_problems(lab, run, p)
    return out


async def burnout_problems(lab: Lab, cast_run: StoredRun, p: dict[str, Any]) -> list[str]:
    """The burnout figures of a cast record against the stored samples of the flask's run."""
    out: list[str] = []
    process, evidence = p["process"], p.get("burnout")
    archive = lab.tmp / "archive" / str(p["telemetry"]["file_name"])
    series: dict[str, Any] | None = None
    if not archive.exists():
        out.append(f"its archived series {archive.name} is missing")
    else:
        data = archive.read_bytes()
        if hashlib.sha256(data).hexdigest() != p["telemetry"]["sha256"]:
            out.append(f"its archived series {archive.name} is not the file it signed")
        else:
            series = json.loads(data)
    cast_series = series["cast"] if series else []
    # when the cast began: its first sample (what the recorder reads up to), else its start
    until = float(cast_series[0][0]) if cast_series else cast_run.started_wall
    found = await lab.store.runs_by_json("$.flask_id", str(p["flask_id"]), JOB_EVENT)
    mine = [r for r in found if r.kiln == p["kiln_id"] and r.started_wall <= until]
    if not mine:
        if evidence is not None or process["peak_kiln_c"] is not None:
            out.append(
                f"signed burnout run {evidence and evidence['run_id']}, peak "
                f"{process['peak_kiln_c']}; no stored run of {p['kiln_id']} burnt out flask "
                f"{p['flask_id']} before the cast"
            )
        return out
    run = mine[0]
    if evidence is None or evidence["run_id"] != run.id:
        got = evidence and evidence["run_id"]
        return [*out, f"signed burnout run {got}; the store's run of the flask is {run.id}"]
    end = min(t for t in (until, run.ended_wall) if t is not None)
    kept = [s for s in await lab.store.samples(run.id) if s[0] <= end]
    peak = peak_of(kept)
    want = None if peak is None else round(peak)
    if process["peak_kiln_c"] != want:
        out.append(
            f"signed peak_kiln_c {process['peak_kiln_c']}; the stored samples of run {run.id} "
            f"up to the cast peak at {peak} ({len(kept)} samples)"
        )
    if cast_series:  # the recorder read exactly these (an interrupted cast: see the docstring)
        if evidence["samples"] != len(kept):
            out.append(f"signed {evidence['samples']} samples; run {run.id} stored {len(kept)}")
        if series is not None and (
            series["kiln_run"] != run.id or [tuple(s) for s in series["kiln"]] != kept
        ):
            out.append(f"its archived burnout curve is not the stored samples of run {run.id}")
    seen = [s.pv_c for s in lab.telemetry if s.run_id == run.id and s.pv_c is not None]
    if want is not None and want not in {round(pv) for pv in seen}:
        out.append(f"signed peak {want} °C: no such reading of run {run.id} in the telemetry")
    return out


def trip_problems(lab: Lab, runs: dict[int, StoredRun], trip: Signed) -> list[str]:
    p, out = trip.predicate, []
    prefix = f"{p['machine']}-run-"
    try:
        run_id = int(str(p["run_id"]).removeprefix(prefix))
    except ValueError:
        return [f"run id {p['run_id']!r} names no run of {p['machine']}"]
    run = runs.get(run_id)
    if run is None or run.kiln != p["machine"]:
        return [f"signed for {p['machine']}, the store has {run}"]
    stored = run.outcome or _pending_kiln_outcome(lab, run_id)
    if stored is None:
        out.append(f"signed a trip ({p['reason']}); the store says run {run_id} is still running")
    elif stored.kind is not OutcomeKind.FAULTED:
        out.append(f"signed a trip ({p['reason']}); the store says run {run_id} {stored}")
    elif p["reason"] != (stored.reason[:200] or "unknown"):
        out.append(f"signed reason {p['reason']!r}; the store says {stored.reason!r}")
    seen = [s.pv_c or 0.0 for s in lab.telemetry if s.run_id == run_id]
    want = min(2000, max(0, round(max(seen, default=0.0))))
    if p["peak_c"] != want:
        out.append(
            f"signed peak_c {p['peak_c']}; the telemetry of run {run_id} peaked at {want} °C"
        )
    return out
