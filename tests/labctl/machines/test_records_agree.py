"""Every signed record agrees with the run store and the telemetry (issue 12, Build point 9).

The lab of :mod:`tests._support.lab`, wired as ``labctl.daemon.app`` wires it
(``stored_history``: the recorder's burnout samples go to the run store, and a restart builds a
new recorder, as a new process would), is driven by the hypothesis model of
:mod:`tests.labctl.machines.test_lab_model` (every command from any role, ticks, every fault,
graceful and SIGKILL-like restarts) plus rules that make signed records likely: a burnout
started for the flask, a technician who casts, a new flask and melt once one is spent.

After every step and at teardown, for every record in the ledger, read through its public API
(``LedgerService.latest``/``find``) and checked against ``RunStore``'s public methods and the
kiln snapshots the lab published (its telemetry):

cast records (completed, aborted, faulted, interrupted)
    - the cast is a run of that caster in the store; its outcome kind is the stored one (never
      ``complete`` unless the store says completed) and ``outcome_detail`` is the stored
      outcome as text (an interrupted cast may add its documented note after ``"; "``); a
      record signed while the store still refuses the outcome agrees with the outcome the
      caster holds to store later;
    - who confirmed which step (and when) is what the store's ``confirmation`` events and the
      cast's stored state say, in order;
    - the burnout: the run is the newest run of that kiln whose ``job`` event names the flask
      and that started no later than the cast (or none, and then ``peak_kiln_c`` and
      ``burnout`` are null); ``peak_kiln_c`` is the rounded maximum of that run's stored
      samples up to the cast; the sample count and the archived curve (whose SHA-256 the record
      signs) are those stored samples; the peak is a temperature the telemetry showed for it;
- every ended cast in the store has its cast record;
safety-trip records
    - name a kiln run the store holds as ``faulted`` with the same reason (or the faulted
      outcome the kiln holds to store later); ``peak_c`` is the highest PV the telemetry
      showed for that run;
- every kiln run the store holds as faulted has its safety-trip record.

Records carry no burnout segments (a cast record names the profile and the run; a trip names
the run), so "segments actually run" is not a signed claim to check: the segments are only in
the run's events. Bounded for CI (about 30 s); ``LABCTL_LONG_TESTS=1`` explores far longer.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from labctl.cast.params import CasterKind
from labctl.commands.registry import Role
from labctl.kiln.commands import JOB_EVENT
from labctl.ledger.metal import Melt
from labctl.ledger.records import LotReceipt, Supplier, TreeFlask
from labctl.ledger.service import predicate_of
from labctl.runs.state import Outcome, OutcomeKind
from labctl.runs.store import Sample, StoredRun
from tests._support.lab import (
    ALLOY,
    CASTER,
    FLASK_C,
    KILN,
    PAYLOADS,
    PROFILE,
    Lab,
    lab_of,
)
from tests.labctl.machines.test_lab_model import ROLE, LabModel

LONG = os.environ.get("LABCTL_LONG_TESTS") == "1"
pytestmark = pytest.mark.timeout(0 if LONG else 60)  # a long run takes minutes
#: labctl.ledger.recorder: the outcome words of a cast record.
SIGNED_OUTCOME = {
    OutcomeKind.COMPLETED: "complete",
    OutcomeKind.ABORTED: "aborted",
    OutcomeKind.FAULTED: "fault",
    OutcomeKind.INTERRUPTED: "interrupted",
}
INTERRUPTED_NOTE = "; "  # an interrupted cast's detail: the stored outcome, then its note


# ------------------------------------------------------------------------------ the oracle


@dataclass(frozen=True, slots=True)
class Signed:
    """One signed record: its ledger index and predicate."""

    index: int
    subject: str
    predicate: dict[str, Any]


async def _signed(lab: Lab, kind: str) -> list[Signed]:
    entries = await lab.service.latest(kind, limit=10_000)
    return [Signed(e.index, e.subject, predicate_of(e.leaf)) for e in reversed(entries)]


def _peak(samples: Iterable[Sample]) -> float | None:
    """labctl.ledger.burnout.Burnout.peak_c, recomputed: the highest PV of the samples."""
    return max((p for s in samples for p in (s[1], s[3]) if p is not None), default=None)


def _at(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")


def _same_instant(signed: str, wall: float) -> bool:
    return datetime.fromisoformat(signed) == datetime.fromtimestamp(wall, UTC)


async def record_problems(lab: Lab) -> list[str]:
    """Every way a signed record disagrees with the run store or the telemetry (none: [])."""
    await lab.recorder.trips.drain()  # safety trips are signed by tasks of their own
    store = lab.store
    runs = {run.id: run for run in await store.history(limit=100_000)}
    problems: list[str] = []
    casts = await _signed(lab, "cast-record")
    for cast in casts:
        problems += [f"{cast.subject}: {p}" for p in await _cast_problems(lab, runs, cast)]
    signed_casts = {c.subject for c in casts}
    for run in runs.values():
        if run.kiln == CASTER and run.outcome is not None and f"cast-{run.id}" not in signed_casts:
            problems.append(f"cast-{run.id} ended {run.outcome} in the store but is not signed")
    trips = await _signed(lab, "safety-trip")
    for trip in trips:
        problems += [f"{trip.subject}: {p}" for p in _trip_problems(lab, runs, trip)]
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


async def _cast_problems(lab: Lab, runs: dict[int, StoredRun], cast: Signed) -> list[str]:
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
    out += await _burnout_problems(lab, run, p)
    return out


async def _burnout_problems(lab: Lab, cast_run: StoredRun, p: dict[str, Any]) -> list[str]:
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
    peak = _peak(kept)
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


def _trip_problems(lab: Lab, runs: dict[int, StoredRun], trip: Signed) -> list[str]:
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


# ------------------------------------------------------------------------------ the model


def _ok(answer: object) -> bool:
    return bool(getattr(answer, "done", False))


class RecordsModel(LabModel):
    """The lab model, wired like the daemon, whose records must agree with what it stored."""

    flasks = 1
    signed = 0

    @initialize(
        kind=st.sampled_from(CasterKind),
        mode=st.sampled_from(["programmer", "stream"]),
        flask_ready=st.booleans(),
    )
    def open_lab(self, kind: CasterKind, mode: str, flask_ready: bool) -> None:
        async def go() -> Lab:
            lab = await Lab.open(self.dir, kiln_mode=mode, caster_kind=kind, stored_history=True)
            if flask_ready:
                lab.controller.pv_c = FLASK_C
            await lab.start()
            return lab

        self.lab = self.run(go())

    def teardown(self) -> None:
        try:
            if self.lab is not None and self.lab.alive():
                self.records_agree_with_the_store()
                casts = self.run(self.lab.service.latest("cast-record", 1000))
                trips = self.run(self.lab.service.latest("safety-trip", 1000))
                event(f"signed: {min(len(casts), 3)}+ cast records, {min(len(trips), 3)}+ trips")
        finally:
            super().teardown()

    # ----------------------------------------------------------------- rules that sign
    @rule(role=ROLE, for_alloy=st.booleans())
    def burnout_for_the_flask(self, role: Role, for_alloy: bool) -> None:
        """A burnout started for the flask (its run's ``job`` event names it)."""
        lab = self.it
        payload: dict[str, object] = {"kiln": KILN, "profile": PROFILE, "flask_id": lab.flask_id}
        if for_alloy:
            payload |= {"alloy": ALLOY, "piece_class": "medium"}
        answer = self.run(lab.command("start", payload, role))
        self.answers.append(answer)
        event(f"burnout for the flask {'done' if answer.done else 'refused'}")

    @rule(confirm_after=st.integers(0, 40))
    def a_technician_casts(self, confirm_after: int) -> None:
        """Start a cast of the flask and confirm the step a person does, when it comes."""
        lab = self.it
        lab.plant.flask_present = True
        if not lab.controller.heating and lab.kiln_state() == "idle":
            lab.controller.pv_c = FLASK_C
        start = self.run(lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN))
        self.answers.append(start)
        event(f"a cast {'started' if start.done else 'refused: ' + start.text[:40]}")
        if not start.done:
            return
        waits = ("flask_transfer", "balance")

        async def wait() -> None:
            for _ in range(60):
                if lab.caster_state() in (*waits, "idle"):
                    return
                await lab.ticks(1)

        self.run(wait())
        if lab.caster_state() in waits:
            self.run(lab.ticks(confirm_after))
            confirm = PAYLOADS["cast_confirm"](lab)
            answer = self.run(lab.command("cast_confirm", confirm, Role.TECHNICIAN, "tech-7"))
            self.answers.append(answer)
            event(f"confirmed {'done' if answer.done else 'refused'}")

    @precondition(lambda self: self.lab is not None and self.flasks < 4)
    @rule()
    def a_new_flask_and_melt(self) -> None:
        """Another invested flask and another melt, recorded in the ledger."""
        lab = self.it
        self.flasks += 1
        n = self.flasks
        lot = LotReceipt.model_validate(
            {
                "lot_id": f"L-{n}",
                "received_at": datetime(2025, 3, n, 9, 30, tzinfo=UTC),
                "received_by": "tech-7",
                "supplier": Supplier(name="Refiner AG"),
                "coc_class": "recycled",
                "metal": "gold",
                "fineness_ppt": 750,
                "mass_mg": 100_000,
            }
        )

        async def record() -> None:
            await lab.service.record(lot)
            await lab.service.record(Melt.from_lots(f"M-{n}", ALLOY, [(lot, 100_000)], 99_000))
            flask = TreeFlask(flask_id=f"F-{n}", tree_id=f"T-{n}", job_ids=["J-1"])
            await lab.service.record(flask)

        self.run(record())
        lab.flask_id, lab.melt_id = f"F-{n}", f"M-{n}"

    # ----------------------------------------------------------------- the property
    @invariant()
    def records_agree_with_the_store(self) -> None:
        if self.lab is None:
            return
        lab = self.lab
        problems = self.run(record_problems(lab))
        self.signed = max(self.signed, lab.service.ledger.size)
        assert not problems, "\n".join(["signed records disagree with the store:", *problems])


RecordsModel.TestCase.settings = settings(
    max_examples=200 if LONG else 80,
    stateful_step_count=80 if LONG else 40,
    deadline=None,
    database=None,
    derandomize=not LONG,
    phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestRecordsAgree = RecordsModel.TestCase


# ------------------------------------------------------------------------------ by hand


async def _cast_to_the_end(lab: Lab) -> None:
    """A vacuum cast of the flask, confirmed by tech-7, run to its end."""
    lab.plant.flask_present = True
    started = await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)
    assert started.done, started
    await lab.until(lambda: lab.caster_state() == "flask_transfer", why="flask transfer")
    confirm = PAYLOADS["cast_confirm"](lab)
    assert (await lab.command("cast_confirm", confirm, Role.TECHNICIAN, "tech-7")).done
    await lab.until(lambda: lab.caster_state() == "idle", why="cast ended")


# a programmer the daemon stopped (SIGTERM: heat off) cannot be re-attached: the run ends
# interrupted, which is right; its program runs on through a SIGKILL
@pytest.mark.parametrize(
    ("mode", "graceful"),
    [("stream", True), ("stream", False), ("programmer", False)],
    ids=["stream-sigterm", "stream-sigkill", "programmer-sigkill"],
)
async def test_a_restart_mid_burnout_does_not_truncate_the_signed_peak(
    lab_dir: Path, mode: str, graceful: bool
) -> None:
    """Burnout to 600 °C, the daemon restarts while the kiln cools to 590 °C, then the cast.

    The cast record's peak is the stored maximum of the whole run (600 °C, all before the
    restart), not the highest PV since the restart (below 600 °C); its burnout evidence names
    that run and counts its stored samples.
    """
    async with lab_of(
        lab_dir, caster_kind=CasterKind.VACUUM, kiln_mode=mode, stored_history=True
    ) as lab:
        start = {"kiln": KILN, "profile": PROFILE, "flask_id": lab.flask_id}
        started = await lab.command("start", start, Role.TECHNICIAN)
        assert started.done, started
        run_id = started.result and started.result["run_id"]
        await lab.until(lambda: (lab.kiln.snapshot.pv_c or 0) >= 600, why="at 600 °C")
        await lab.until(lambda: "cool" in lab.kiln.snapshot.segment, why="cooling")
        await lab.ticks(5)  # cooling: below the peak, above the flask window's top
        before = await lab.store.samples(int(str(run_id)))
        stored_peak = _peak(before)
        assert stored_peak == 600.0, (before, lab.status())  # stored before the restart
        await lab.restart(graceful=graceful)
        await lab.until(lambda: lab.kiln_state() == "final_hold", why="final hold, resumed")
        await lab.ticks(3)
        after = [s.pv_c for s in lab.telemetry[-4:]]
        assert all(pv is not None and pv < 600 for pv in after), after  # only what is seen now
        await _cast_to_the_end(lab)
        entry = await lab.service.find("cast-record", f"cast-{lab.caster.snapshot.last_cast_id}")
        assert entry is not None, lab.board.texts()
        record = predicate_of(entry.leaf)
        assert record["process"]["outcome"] == "complete", record["process"]
        assert record["burnout"]["run_id"] == run_id, record["burnout"]
        assert record["process"]["peak_kiln_c"] == 600, (
            f"the signed peak is {record['process']['peak_kiln_c']} °C; run {run_id} stored "
            f"600 °C before the restart"
        )
        assert [(c["step"], c["by"]) for c in record["confirmations"]] == [
            ("flask_placed", "tech-7")
        ]
        assert await record_problems(lab) == []


async def test_the_oracle_sees_a_false_record(lab_dir: Path) -> None:
    """The property is not vacuous.

    A cast record with a truncated peak, a false outcome and a confirmation nobody gave is
    named on each count.
    """
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM, stored_history=True) as lab:
        start = {"kiln": KILN, "profile": PROFILE, "flask_id": lab.flask_id}
        assert (await lab.command("start", start, Role.TECHNICIAN)).done
        await lab.until(lambda: lab.kiln_state() == "final_hold", why="final hold")
        lab.plant.estop_ok = False  # the cast faults
        lab.plant.flask_present = True
        assert (await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)).done
        await lab.until(lambda: lab.caster_state() == "idle", why="cast ended")
        assert await record_problems(lab) == []
        (cast,) = await _signed(lab, "cast-record")
        assert cast.predicate["process"]["outcome"] == "fault", cast.predicate
        false = json.loads(json.dumps(cast.predicate))
        false["process"] |= {"peak_kiln_c": 477, "outcome": "complete"}
        false["confirmations"] = [{"step": "flask_placed", "by": "nobody", "at": _at(0.0)}]
        runs = {run.id: run for run in await lab.store.history()}
        problems = await _cast_problems(lab, runs, Signed(cast.index, cast.subject, false))
        assert len(problems) == 4, problems  # outcome, events, stored state, peak
        assert any("signed 'complete'" in p for p in problems), problems
        assert any("signed peak_kiln_c 477" in p for p in problems), problems


async def test_an_interrupted_cast_signs_no_burnout_that_began_after_it(lab_dir: Path) -> None:
    """Found by the model: a cast interrupted by a restart signs a later burnout as its own.

    The flask is already at its casting temperature (no burnout run names it) and the cast
    starts; meanwhile a burnout is started for the same flask id and reaches 600 °C; the daemon
    is killed and the new one ends the cast interrupted and signs it. Its record must not
    claim that burnout (it began after the cast): no burnout run, no peak. The recorder reads
    the flask's burnout "up to the cast's first sample", and an interrupted cast has no
    samples (``until`` None), so it takes the newest run of the flask, whenever it began.
    """
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM, stored_history=True) as lab:
        lab.controller.pv_c = FLASK_C
        lab.plant.heat_cap_c = 900.0  # the melt never settles: the cast waits in melt
        await lab.ticks(1)
        cast = await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)
        assert cast.done, cast
        await lab.until(lambda: lab.caster_state() == "melt", why="melt")
        start = {"kiln": KILN, "profile": PROFILE, "flask_id": lab.flask_id}
        burnout = await lab.command("start", start, Role.TECHNICIAN)
        assert burnout.done, burnout
        await lab.until(lambda: (lab.kiln.snapshot.pv_c or 0) >= 600, why="600 °C")
        await lab.ticks(70)  # its samples stored
        await lab.restart(graceful=False)
        await lab.until(lambda: lab.caster_state() == "idle", why="cast interrupted")
        await lab.ticks(2)
        cast_id = cast.result and cast.result["cast_id"]
        entry = await lab.service.find("cast-record", f"cast-{cast_id}")
        assert entry is not None, lab.board.texts()
        record = predicate_of(entry.leaf)
        assert record["process"]["outcome"] == "interrupted", record["process"]
        assert (record["burnout"], record["process"]["peak_kiln_c"]) == (None, None), (
            f"cast started at {await _started(lab, record)}: it signs burnout run "
            f"{record['burnout'] and record['burnout']['run_id']} (started "
            f"{await _started(lab, record, burnout.result)}) with peak "
            f"{record['process']['peak_kiln_c']} °C"
        )


async def _started(lab: Lab, record: dict[str, Any], result: object = None) -> str:
    """When a run began, in the lab's virtual seconds (for the failure message)."""
    runs = {r.id: r for r in await lab.store.history()}
    run_id = int(str(record["cast_id"]).removeprefix("cast-"))
    if isinstance(result, dict):
        run_id = int(result["run_id"])
    return f"t={runs[run_id].started_wall - lab.clock.wall() + lab.clock.now():.0f} s"
