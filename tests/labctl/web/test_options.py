"""``start_options``: the profile library, and the ledger's flasks and melts not yet cast.

The ledger is a real one in tmp_path: a LedgerService with a fresh key, a CastRecorder built
directly (its constructor does no I/O), the demo's records signed through the real
``ledger_record`` command, and a cast record signed through the service. That is lighter
than a whole lab from ``build_lab`` and runs the same code ``start_options`` runs there.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from labctl.commands.registry import Caller, CommandRegistry
from labctl.config.users import Role
from labctl.ledger import keys
from labctl.ledger.burnout import KilnHistory
from labctl.ledger.commands import register_ledger_commands
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import CastRecord
from labctl.ledger.service import LedgerService
from labctl.sim.demo.records import demo_records
from labctl.web.options import ledger_choices, library, register_start_options

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
ORIGIN = "test.labctl.invalid/ledger/v1"
TECH = Caller("ana", Role.TECHNICIAN)
ALLOY, PIECE_CLASS = "gold-18k-yellow", "heavy"


# ---------------------------------------------------------------- library


def test_the_library_lists_every_profile_and_alloy() -> None:
    found = library(PROFILES)
    stems = sorted(p.stem for p in (PROFILES / "burnout").glob("*.toml"))
    assert [p["name"] for p in found["profiles"]] == stems
    assert [a["name"] for a in found["alloys"]] == sorted(
        p.stem for p in (PROFILES / "alloys").glob("*.toml")
    )
    for profile in found["profiles"]:
        segments = profile["segments"]
        assert isinstance(segments, list) and segments
        assert all(isinstance(s, str) and s for s in segments)
    for alloy in found["alloys"]:
        uses, methods, flask = alloy["burnout_profiles"], alloy["methods"], alloy["flask_c"]
        assert isinstance(uses, list) and isinstance(methods, list) and isinstance(flask, dict)
        assert set(uses) <= set(stems), alloy["name"]  # empty: no schedule fits yet (Pt, Pd)
        assert methods and set(methods) <= {"vacuum", "centrifugal"}
        assert flask["thin"] >= flask["medium"] >= flask["heavy"] > 300, alloy["name"]
    json.dumps(found)  # what the command answers must be JSON


def test_a_broken_file_is_left_out_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shutil.copytree(PROFILES, tmp_path / "profiles")
    broken_profile = tmp_path / "profiles" / "burnout" / "aa-broken.toml"
    broken_profile.write_text('name = "aa-broken')
    broken_alloy = tmp_path / "profiles" / "alloys" / "silver-925.toml"
    broken_alloy.write_text(broken_alloy.read_text().replace("schema_version", "schema_versio"))
    with caplog.at_level(logging.WARNING, logger="labctl.web.options"):
        found = library(tmp_path / "profiles")
    whole = library(PROFILES)
    assert found["profiles"] == whole["profiles"]
    assert [a["name"] for a in found["alloys"]] == [
        a["name"] for a in whole["alloys"] if a["name"] != "silver-925"
    ]
    assert str(broken_profile) in caplog.text
    assert str(broken_alloy) in caplog.text


# ---------------------------------------------------------------- ledger


@pytest.fixture
async def recorder(tmp_path: Path) -> AsyncIterator[CastRecorder]:
    keys.generate(tmp_path / "log.key", ORIGIN)
    service = await LedgerService.open(
        tmp_path / "ledger.sqlite", origin=ORIGIN, key_files=[tmp_path / "log.key"]
    )
    alarms: list[str] = []
    try:
        yield CastRecorder(service, tmp_path / "archive", KilnHistory(), alarms.append)
    finally:
        await service.close()
    assert alarms == []


async def record_demo(recorder: CastRecorder, tmp_path: Path) -> None:
    registry = CommandRegistry()
    register_ledger_commands(registry, recorder, tmp_path / "certificates")
    for record in demo_records(ALLOY, PIECE_CLASS, "gold", 750):
        await registry.dispatch("ledger_record", record, TECH)


def cast_record(flask_id: str, melt_id: str) -> CastRecord:
    return CastRecord.model_validate(
        {
            "cast_id": "cast-1",
            "flask_id": flask_id,
            "melt_id": melt_id,
            "kiln_id": "kiln1",
            "caster_id": "caster1",
            "burnout_profile": "gypsum-wax-small",
            "alloy": ALLOY,
            "confirmations": [{"step": "flask_placed", "by": "ana", "at": datetime.now(UTC)}],
            "process": {
                "peak_kiln_c": 730,
                "flask_c_at_cast": 540,
                "pour_c": 1010,
                "min_vacuum_pa": 8000,
                "outcome": "complete",
            },
            "telemetry": {"file_name": "cast-1.series.json", "sha256": "ab" * 32},
        }
    )


async def test_an_empty_ledger_offers_nothing(recorder: CastRecorder) -> None:
    assert await ledger_choices(recorder) == {"flasks": [], "melts": []}


async def test_a_recorded_flask_takes_alloy_and_class_from_its_jobs_until_cast(
    recorder: CastRecorder, tmp_path: Path
) -> None:
    await record_demo(recorder, tmp_path)
    records = demo_records(ALLOY, PIECE_CLASS, "gold", 750)
    flask = next(r["record"] for r in records if r["kind"] == "tree-flask")
    melt = next(r["record"] for r in records if r["kind"] == "melt")
    choices = await ledger_choices(recorder)
    assert choices["flasks"] == [
        {
            "flask_id": flask["flask_id"],
            "job_ids": flask["job_ids"],
            "alloy": ALLOY,
            "piece_class": PIECE_CLASS,
        }
    ]
    assert choices["melts"] == [{"melt_id": melt["melt_id"], "alloy": ALLOY}]

    await recorder.service.record(cast_record(flask["flask_id"], melt["melt_id"]))
    assert await ledger_choices(recorder) == {"flasks": [], "melts": []}


async def test_a_flask_of_jobs_in_two_alloys_has_no_alloy(
    recorder: CastRecorder, tmp_path: Path
) -> None:
    await record_demo(recorder, tmp_path)
    registry = CommandRegistry()
    register_ledger_commands(registry, recorder, tmp_path / "certificates")
    job = next(
        r["record"] for r in demo_records(ALLOY, "thin", "gold", 750) if r["kind"] == "job-ticket"
    )
    other = job | {"job_id": "J-1002", "alloy": "silver-925", "piece_class": "thin"}
    await registry.dispatch("ledger_record", {"kind": "job-ticket", "record": other}, TECH)
    mixed = {"flask_id": "F-0008", "tree_id": "T-0008", "job_ids": ["J-1001", "J-1002"]}
    await registry.dispatch("ledger_record", {"kind": "tree-flask", "record": mixed}, TECH)
    flasks = {f["flask_id"]: f for f in (await ledger_choices(recorder))["flasks"]}
    assert flasks["F-0008"]["alloy"] is None and flasks["F-0008"]["piece_class"] is None
    assert flasks["F-0007"]["alloy"] == ALLOY


async def test_the_start_options_command(recorder: CastRecorder, tmp_path: Path) -> None:
    await record_demo(recorder, tmp_path)
    registry = CommandRegistry()
    register_start_options(registry, PROFILES, recorder)
    without = CommandRegistry()
    register_start_options(without, PROFILES, None)
    observer = Caller("kiosk", Role.OBSERVER)  # it changes nothing: anyone may ask

    found = await registry.dispatch("start_options", {}, observer)
    bare = await without.dispatch("start_options", {}, observer)
    assert {k: found[k] for k in ("profiles", "alloys")} == library(PROFILES)
    flasks = found["flasks"]
    assert isinstance(flasks, list)
    assert [f["flask_id"] for f in flasks] == ["F-0007"]
    assert bare == library(PROFILES) | {"flasks": [], "melts": []}
    json.dumps(found)
