"""One cell of the fault matrix: drive a fresh run or cast to a phase, inject the row's fault,
and check the safe state, the outcome, the alarm, the ledger record of the trip and the
telemetry. ``fault_matrix_support`` holds the table, ``fault_matrix_labs`` the rigs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from typing import Any

from drivers.capabilities import CasterOutputs
from hil_tests.conftest import Rig
from hil_tests.support.caster import CasterRig
from hil_tests.support.fault_matrix import STARTS_AGAIN, Cells
from hil_tests.support.fault_matrix_labs import ALLOY, MARK, MatrixLab
from hil_tests.support.services import influxql
from labctl.ledger.recorder import CastRecorder

FAULTED = "faulted: "
SAFE_WITHIN_S = 20.0  # wall seconds
Status = dict[str, Any]
PHASE_REACHED: dict[str, Callable[[Status], bool]] = {
    "ramp": lambda s: "ramp to 500" in s["kilns"][0]["segment"],
    "hold": lambda s: s["kilns"][0]["state"] == "running" and " hold " in s["kilns"][0]["segment"],
    "final_hold": lambda s: s["kilns"][0]["state"] == "final_hold",
}
CAST_STATES = {
    "vacuum": {"melt": ("melt",), "pour": ("evacuate", "pour"), "hold": ("vacuum_hold",)},
    "centrifugal": {"melt": ("melt",), "pour": ("spin_up",), "hold": ("spin_hold", "brake")},
}


async def burnout_cell(
    lab: MatrixLab, part: Cells, cell: str, phase: str, outcome_within_s: float = 30
) -> None:
    rig: Rig = lab.rig
    reply = await rig.command("start", kiln="kiln1", profile="hil-short", cool_first=True)
    assert reply["ok"], f"{cell}: {reply}"
    run_id = reply["result"]["run_id"]
    await rig.wait_for(PHASE_REACHED[phase], timeout_s=60)
    spooled = await lab.telemetry("kiln")
    part.inject(rig)
    try:
        if not part.faults:
            await _keeps_running(lab, run_id)
            await rig.wait_for(PHASE_REACHED["final_hold"], timeout_s=60)
            assert (await rig.command("take_flask", kiln="kiln1"))["ok"]
        outcome = await rig.wait_outcome(timeout_s=outcome_within_s)
        # (1) heat off while the fault lasts: by labctl, or by the device's own fallback when
        # labctl cannot reach it
        await rig.wait_sim(lambda s: s.output_pct <= 0.5, SAFE_WITHIN_S)
        await lab.alive(cell)
    finally:
        part.restore(rig)
    _assert_outcome(cell, part, outcome)
    await rig.wait_for(
        lambda s: s["kilns"][0]["safe"] and s["kilns"][0]["pv_c"] is not None, timeout_s=30
    )
    await _alarm(lab, "kiln1", outcome, part.faults)  # (3)
    subject = f"kiln1-run-{run_id}"
    trip = await _record(
        lab, "safety-trip", subject, part.faults, _missing(part, "safety trip of " + subject)
    )  # (4)
    if trip:
        assert trip["reason"] == outcome.removeprefix(FAULTED)[:200], trip
        assert trip["machine"] == "kiln1", trip
    await _all_offered_stored(lab, "kiln", spooled if part.disk else None)  # (5)
    if part.disk:  # the same daemon starts the next run once the disk is freed
        reply = await rig.command("start", kiln="kiln1", profile="hil-short", cool_first=True)
        await _started_again(lab, cell, reply, "abort", kiln="kiln1")


async def _keeps_running(lab: MatrixLab, run_id: int) -> None:
    """After the clock jump: the same run goes on, its time and timestamps did not jump."""
    await lab.daemon.wait_until(lambda: MARK in lab.daemon.log(), 5, "the clock did not jump")
    before = await lab.rig.kiln()
    await asyncio.sleep(1.0)  # 1000 simulated s
    kiln = await lab.rig.kiln()
    assert kiln["run_id"] == run_id and kiln["state"] in ("running", "final_hold"), kiln
    assert abs(kiln["wall"] - lab.rig.clock.wall()) < 120, "the daemon's timestamps jumped"
    elapsed = kiln["at"] - before["at"]
    assert 0 < elapsed < 5000, f"the program clock moved {elapsed} s in 1 wall second"


async def cast_cell(
    lab: MatrixLab, part: Cells, cell: str, phase: str, outcome_within_s: float = 60
) -> None:
    rig: CasterRig = lab.rig
    rig.sim.io.flask_present = False
    # a crucible the previous cell overheated (a welded relay) cools below the pour first
    await rig.wait_for(lambda c: (c["crucible_c"] or 0) < ALLOY.pour_temp_c, timeout_s=60)
    if rig.sim.drive is not None:  # an arm the previous cell tripped coasts to rest first (~40
        # simulated s; the preflight waits 15 s for it, which a loaded runner can miss)
        await rig.daemon.wait_until(lambda: rig.sim.io.arm_stopped, 60, "the arm still turns")
    start = {"caster": "caster1", "alloy": ALLOY.name, "piece_class": "medium", "kiln": "kiln1"}
    reply = await _cast_start(rig, start | lab.next_chain())
    assert reply["ok"], f"{cell}: {reply}"
    cast_id = reply["result"]["cast_id"]
    step = "flask_placed" if part.kind == "vacuum" else "balance_confirmed"
    if phase == "melt":
        await rig.wait_state("melt", timeout_s=30)
    else:
        await rig.wait_for(lambda c: c["waiting_for"] == step, timeout_s=90)
    spooled = await lab.telemetry("caster")
    if phase in ("pour", "hold"):
        await _confirm(rig, step)
        states = CAST_STATES[part.kind][phase]
        await rig.wait_for(lambda c: c["state"] in states, timeout_s=60)
    if part.at is not None:  # the status read above may be a phase behind the simulator
        await rig.wait_sim(part.at, timeout_s=10)
    part.inject(rig)  # no await since the simulator was read: it has not moved on
    try:
        if not part.faults:
            await lab.daemon.wait_until(lambda: MARK in lab.daemon.log(), 5, "no clock jump")
            if phase in ("melt", "transfer"):
                await rig.wait_for(lambda c: c["waiting_for"] == step, timeout_s=90)
                await _confirm(rig, step)
        outcome = await rig.outcome(timeout_s=outcome_within_s)
        await lab.alive(cell)
    finally:
        part.restore(rig)
    _assert_outcome(cell, part, outcome)
    await rig.wait_sim(lambda s: s.crucible.stopped, timeout_s=SAFE_WITHIN_S)  # (1)
    safe = CasterOutputs()  # a lid is released again once the arm stands still
    await rig.wait_sim(
        lambda s: dataclasses.replace(s.io.coils, lid_release=False) == safe, SAFE_WITHIN_S
    )
    if (drive := rig.sim.drive) is not None:
        await rig.wait_sim(lambda s: drive.output_hz == 0, timeout_s=SAFE_WITHIN_S)
    await rig.wait_for(lambda c: c["safe"] and not c["stale"], timeout_s=30)
    await _alarm(lab, "caster1", outcome, part.faults)  # (3)
    record = await _record(
        lab, "cast-record", f"cast-{cast_id}", True, _missing(part, f"cast {cast_id}")
    )  # (4)
    if record:
        process = record["process"]
        assert process["outcome"] == ("fault" if part.faults else "complete"), record
        assert process["outcome_detail"] == outcome[:300], record
    await _all_offered_stored(lab, "caster", spooled if part.disk else None)  # (5)
    if part.disk:  # the same daemon starts the next cast once the disk is freed
        rig.sim.io.flask_present = False
        reply = await _cast_start(rig, start | lab.next_chain())
        await _started_again(lab, cell, reply, "cast_abort", caster="caster1")


async def _confirm(rig: CasterRig, step: str) -> None:
    rig.sim.io.flask_present = True
    await rig.wait_for(lambda c: c["flask_present"], timeout_s=5)
    assert (await rig.command("cast_confirm", caster="caster1", step=step))["ok"]


async def _alarm(lab: MatrixLab, source: str, outcome: str, raised: bool) -> None:
    """(3) the alarm board shows ``source``'s outcome (only if it faulted)."""
    reply = await lab.daemon.command("alarms")
    assert reply["ok"], reply
    mine = [a for a in reply["result"]["alarms"] if a["source"] == source and a["active"]]
    found = [a for a in mine if a["text"].endswith(outcome)]
    assert bool(found) == raised and (raised or not mine), f"{outcome}: alarms {mine}"


async def _cast_start(rig: CasterRig, start: dict[str, str]) -> Status:
    """``cast_start``, again while it is refused only for readings older than the caster's
    stale limit: 20 simulated s are 0.4 wall s at 50x, which a loaded 2-core runner can miss.
    """
    deadline = time.monotonic() + 10
    while True:
        reply = await rig.command("cast_start", **start)
        late = all(
            p.startswith("no reading")
            for p in reply.get("error", "x: x").split(": ", 1)[1].split("; ")
        )
        if reply["ok"] or not late or time.monotonic() > deadline:
            return reply
        await asyncio.sleep(0.2)


def _assert_outcome(cell: str, part: Cells, outcome: str) -> None:
    """(2) faulted, never completed, and the reason names the fault (or, with no fault,
    completed by the person who took the flask: never early, never faulted).
    """
    if not part.faults:
        assert outcome == "completed", f"{cell}: {outcome}"
        return
    named = any(reason in outcome for reason in part.reasons)
    assert outcome.startswith(FAULTED) and named, f"{cell}: {outcome}"


async def _record(
    lab: MatrixLab, kind: str, subject: str, expected: bool = True, missing: str | None = None
) -> dict[str, Any]:
    """The predicate of the latest ``kind`` record about ``subject`` (waits for its commit);
    with ``expected`` False, that there is none after the wait; with ``missing``, {} once a lab
    alarm says ``missing`` is NOT in the ledger (it could not be appended).
    """
    deadline = time.monotonic() + (10 if expected else 1)
    query = "SELECT leaf FROM entries WHERE kind = ? AND subject = ? ORDER BY idx DESC LIMIT 1"
    while True:
        with closing(sqlite3.connect(f"{lab.ledger_db.as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute(query, (kind, subject)).fetchone()
        if row is not None:
            assert expected, f"a {kind} record of {subject}"
            return await CastRecorder.predicate(bytes(row[0]))
        if missing is not None and await lab.lab_alarm(f"{missing} is NOT in the ledger"):
            return {}
        if not expected and time.monotonic() > deadline:
            return {}
        assert time.monotonic() < deadline, f"no {kind} record of {subject}\n{lab.daemon.log()}"
        await asyncio.sleep(0.1)


async def _all_offered_stored(
    lab: MatrixLab, measurement: str, full: tuple[int, int] | None = None, timeout_s: float = 30
) -> None:
    """Every ``measurement`` point offered to the spool so far reaches InfluxDB, each once.

    With ``full`` (the counts when the disk filled up) the allowance of a full disk: every point
    offered before it is stored, and of those offered since, only as many may be missing as the
    spool counted dropped.
    """
    query = f'SELECT count("state") FROM "{measurement}"'
    (before, dropped), deadline = await lab.telemetry(measurement), time.monotonic() + timeout_s
    expected = before if full is None else max(full[0], before - (dropped - full[1]))
    while True:
        series = await influxql(lab.influx_url, "labctl", query)
        stored = int(series[0]["values"][0][1]) if series else 0
        offered = (await lab.telemetry(measurement))[0]
        assert stored <= offered, f"{stored} {measurement} points stored: duplicates"
        if stored >= expected:
            return
        lost = f"{stored} of {expected} {measurement} points stored ({dropped} dropped)"
        assert time.monotonic() < deadline, lost
        await asyncio.sleep(0.2)


def _missing(part: Cells, record: str) -> str | None:
    """With a full disk a record may be missing from the ledger, if a lab alarm says so."""
    return record if part.disk else None


async def _started_again(lab: MatrixLab, cell: str, reply: Status, abort: str, **on: str) -> None:
    """After a full disk was freed the same daemon starts a new run or cast (then aborted)."""
    assert reply["ok"], f"{cell}: {STARTS_AGAIN} once the disk was freed: {reply}"
    aborted = await lab.daemon.command(abort, **on, reason="fault matrix: it started again")
    assert aborted["ok"], f"{cell}: {aborted}"
