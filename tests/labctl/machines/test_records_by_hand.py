"""Signed records against the run store, by hand: cases the records model found, and its oracle.

The oracle (:mod:`tests._support.record_oracle`) is the one the hypothesis model of
:mod:`tests.labctl.machines.test_records_agree` checks after every step; here it is shown not
to be vacuous, and the model's findings stay pinned as plain tests.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from labctl.config.limits import CasterKind
from labctl.config.users import Role
from labctl.ledger.service import predicate_of
from tests._support.lab import Lab, lab_of
from tests._support.lab_commands import PAYLOADS
from tests._support.lab_site import FLASK_C, KILN, PROFILE
from tests._support.record_oracle import (
    Signed,
    cast_problems,
    peak_of,
    record_problems,
    signed_records,
)


def _at(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")


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
        stored_peak = peak_of(before)
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
        (cast,) = await signed_records(lab, "cast-record")
        assert cast.predicate["process"]["outcome"] == "fault", cast.predicate
        false = json.loads(json.dumps(cast.predicate))
        false["process"] |= {"peak_kiln_c": 477, "outcome": "complete"}
        false["confirmations"] = [{"step": "flask_placed", "by": "nobody", "at": _at(0.0)}]
        runs = {run.id: run for run in await lab.store.history()}
        problems = await cast_problems(lab, runs, Signed(cast.index, cast.subject, false))
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
