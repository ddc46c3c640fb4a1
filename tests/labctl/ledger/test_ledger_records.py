"""Record models: strict validation naming the field, JSON-able predicates without floats."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger import keys
from labctl.ledger.metal import Melt, QaBalance
from labctl.ledger.ops_records import KeyRotation, SafetyTrip
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import (
    CastRecord,
    JobTicket,
    LotReceipt,
    Record,
    TreeFlask,
)
from labctl.ledger.service import LedgerService
from labctl.ledger.trips import TripRecorder

ORIGIN = "lab.example/ledger/v1"

SHA = "ab" * 32
AT = "2025-03-01T09:30:00Z"

LOT: dict[str, Any] = {
    "lot_id": "LOT-2025-001",
    "received_at": AT,
    "received_by": "tech-7",
    "supplier": {"name": "Refiner AG", "rjc_coc_certificate": "RJC-COC-123"},
    "coc_class": "recycled",
    "metal": "gold",
    "fineness_ppt": 999,
    "mass_mg": 250_003,
    "documents": [{"name": "transfer-doc.pdf", "sha256": SHA}],
}
JOB: dict[str, Any] = {
    "job_id": "J-1",
    "customer_order": "SO-1",
    "piece_ids": ["J-1-a", "J-1-b"],
    "cad_file": {"name": "ring.stl", "sha256": SHA},
    "alloy": "18k-yellow",
    "piece_class": "thin",
}
FLASK: dict[str, Any] = {
    "flask_id": "F-9",
    "tree_id": "T-9",
    "job_ids": ["J-1"],
    "wax_mass_mg": 4_100,
}
CAST: dict[str, Any] = {
    "cast_id": "C-1",
    "flask_id": "F-9",
    "melt_id": "M-1",
    "kiln_id": "kiln1",
    "caster_id": "vac1",
    "burnout_profile": "gypsum-standard",
    "alloy": "18k-yellow",
    "confirmations": [{"step": "flask_placed", "by": "tech-7", "at": AT}],
    "process": {
        "peak_kiln_c": 732,
        "flask_c_at_cast": 540,
        "pour_c": 1010,
        "min_vacuum_pa": 8_000,
        "spin_rpm": None,
        "outcome": "complete",
        "outcome_detail": "",
    },
    "telemetry": {"file_name": "C-1.series.csv", "sha256": SHA},
}
VKEY = "castlab.example.com/ledger/v1+4e1bd1a2+AfDTdmCkk3VhZGVoRLfAG4wj0UWPoAbixm4Z8y2rDQMm"
ROTATION: dict[str, Any] = {"new_vkey": VKEY, "effective_index": 1_234}
MELT: dict[str, Any] = {
    "melt_id": "M-1",
    "alloy": "18k-yellow",
    "inputs": [
        {"lot_id": "A", "mass_mg": 3, "coc_class": "recycled", "metal": "gold", "fineness_ppt": 999}
    ],
    "result_mass_mg": 3,
}
QA: dict[str, Any] = {
    "cast_id": "C-1",
    "input_mass_mg": 10,
    "pieces": [{"piece_id": "J-1-a", "mass_mg": 9}],
    "scrap_mg": 0,
    "tolerance_ppt": 50,
}
TRIP: dict[str, Any] = {
    "run_id": "kiln1-run-3",
    "machine": "kiln1",
    "reason": "sensor break: the controller reports an open sensor",
    "tripped_at": AT,
    "peak_c": 512,
}

CASES = [
    (LotReceipt, LOT, "lot-receipt", "LOT-2025-001"),
    (Melt, MELT, "melt", "M-1"),
    (JobTicket, JOB, "job-ticket", "J-1"),
    (TreeFlask, FLASK, "tree-flask", "F-9"),
    (CastRecord, CAST, "cast-record", "C-1"),
    (QaBalance, QA, "qa-balance", "C-1"),
    (KeyRotation, ROTATION, "key-rotation", "key-rotation-1234"),
    (SafetyTrip, TRIP, "safety-trip", "kiln1-run-3"),
]


def no_floats(obj: object) -> bool:
    if isinstance(obj, dict):
        return all(isinstance(k, str) and no_floats(v) for k, v in obj.items())
    if isinstance(obj, list):
        return all(no_floats(v) for v in obj)
    return obj is None or isinstance(obj, str | int | bool)


@pytest.mark.parametrize(("cls", "data", "kind", "record_id"), CASES)
def test_predicate_round_trips(cls: type[Record], data, kind, record_id):
    record = cls.model_validate(data)
    assert record.kind == kind
    assert record.record_id == record_id
    pred = record.predicate()
    assert no_floats(pred)
    assert json.loads(json.dumps(pred)) == pred
    assert {k: pred[k] for k in data} == json.loads(json.dumps(data))
    assert cls.from_predicate(pred) == record


@pytest.mark.parametrize(("cls", "data", "kind", "record_id"), CASES)
def test_unknown_field_is_refused(cls: type[Record], data, kind, record_id):
    with pytest.raises(ValidationError, match=r"colour\n  Extra inputs are not permitted"):
        cls.model_validate(data | {"colour": "red"})


def test_records_are_frozen():
    job = JobTicket.model_validate(JOB)
    with pytest.raises(ValidationError, match="frozen"):
        job.alloy = "14k"  # type: ignore[misc]


def test_lot_derives_exact_fine_metal():
    assert LotReceipt.model_validate(LOT).derived() == {"fine_metal_ug": 249_752_997}


@pytest.mark.parametrize(
    ("cls", "data", "loc", "problem"),
    [
        (LotReceipt, LOT | {"coc_class": "conflict-free"}, "coc_class", "'mined', 'recycled'"),
        (LotReceipt, LOT | {"fineness_ppt": 1001}, "fineness_ppt", "less than or equal to 1000"),
        (LotReceipt, LOT | {"fineness_ppt": 750.0}, "fineness_ppt", "valid integer"),
        (LotReceipt, LOT | {"mass_mg": "5"}, "mass_mg", "valid integer"),
        (LotReceipt, LOT | {"mass_mg": 0}, "mass_mg", "greater than or equal to 1"),
        (LotReceipt, LOT | {"received_at": "2025-03-01T09:30:00"}, "received_at", "timezone"),
        (
            LotReceipt,
            LOT | {"documents": [{"name": "x.pdf", "sha256": SHA.upper()}]},
            "documents.0.sha256",
            "64 lowercase hex digits",
        ),
        (JobTicket, JOB | {"piece_ids": ["a", "b", "a"]}, "piece_ids", "duplicates: a"),
        (JobTicket, JOB | {"piece_ids": []}, "piece_ids", "at least 1 item"),
        (JobTicket, JOB | {"job_id": "has space"}, "job_id", "match pattern"),
        (TreeFlask, FLASK | {"job_ids": ["J-1", "J-1"]}, "job_ids", "duplicates: J-1"),
        (
            CastRecord,
            CAST | {"process": CAST["process"] | {"spin_rpm": 400}},
            "process",
            "not both",
        ),
        (
            CastRecord,
            CAST | {"process": CAST["process"] | {"pour_c": 1010.5}},
            "process.pour_c",
            "valid integer",
        ),
        (KeyRotation, ROTATION | {"new_vkey": "not a vkey"}, "new_vkey", "match pattern"),
        (KeyRotation, ROTATION | {"effective_index": -1}, "effective_index", "greater than"),
        (SafetyTrip, TRIP | {"peak_c": 512.5}, "peak_c", "valid integer"),
        (SafetyTrip, TRIP | {"reason": ""}, "reason", "at least 1 character"),
        (SafetyTrip, TRIP | {"tripped_at": "2025-03-01T09:30:00"}, "tripped_at", "timezone"),
    ],
)
def test_errors_name_field_and_problem(cls: type[Record], data, loc, problem):
    with pytest.raises(ValidationError) as info:
        cls.model_validate(data)
    err = info.value.errors()[0]
    assert ".".join(str(p) for p in err["loc"]) == loc
    assert problem in err["msg"]


def test_cast_predicate_carries_the_summary_and_digest():
    cast = CastRecord.model_validate(
        CAST | {"process": CAST["process"] | {"min_vacuum_pa": None, "spin_rpm": 420}}
    )
    pred = cast.predicate()
    assert pred["process"]["spin_rpm"] == 420
    assert pred["telemetry"] == {"file_name": "C-1.series.csv", "sha256": SHA}
    assert pred["confirmations"] == [{"step": "flask_placed", "by": "tech-7", "at": AT}]
    assert datetime.fromisoformat(pred["confirmations"][0]["at"]) == datetime(
        2025, 3, 1, 9, 30, tzinfo=UTC
    )


async def test_a_faulted_run_is_signed_as_a_safety_trip_with_its_peak(tmp_path):
    keys.generate(tmp_path / "log.key", ORIGIN)
    service = await LedgerService.open(
        tmp_path / "ledger.sqlite", origin=ORIGIN, key_files=[tmp_path / "log.key"]
    )
    alarms: list[str] = []
    trips = TripRecorder(service, alarms.append)
    try:
        for run_id, pvs, outcome in [
            (1, [20.0, 300.0, 450.0], "completed"),
            (
                2,
                [430.0, 512.4, 500.0],
                "faulted: sensor break: the controller reports an open sensor",
            ),
        ]:
            for at, pv in enumerate(pvs):
                trips.add(snap(run_id=run_id, pv_c=pv, wall=1_740_000_000.0 + at))
            trips.add(snap(run_id=None, pv_c=1200.0, wall=1_740_000_100.0, outcome=outcome))
        await trips.drain()
        assert alarms == []
        assert await service.find("safety-trip", "kiln1-run-1") is None
        entry = await service.find("safety-trip", "kiln1-run-2")
        assert entry is not None
        record = SafetyTrip.from_predicate(await CastRecorder.predicate(entry.leaf))
        assert record.peak_c == 512 and record.machine == "kiln1"  # not the open sensor's 1200
        assert record.reason == "sensor break: the controller reports an open sensor"
        assert record.tripped_at == datetime.fromtimestamp(1_740_000_100.0, UTC)
        service.ledger.stop("disk full")
        trips.add(snap(run_id=3, pv_c=100.0, wall=1_740_000_200.0))
        trips.add(snap(run_id=None, pv_c=90.0, wall=1_740_000_201.0, outcome="faulted: stall"))
        await trips.drain()
        (missing,) = alarms
        assert missing.startswith("safety trip of kiln1-run-3 is NOT in the ledger: ")
        assert missing.endswith("disk full")
    finally:
        await service.close()


def snap(*, run_id: int | None, pv_c: float, wall: float, outcome: str | None = None):
    state = "idle" if run_id is None else "running"
    return KilnSnapshot(
        kiln="kiln1", at=wall, wall=wall, link="ok", state=state, run_id=run_id, pv_c=pv_c,
        outcome=outcome,
    )  # fmt: skip
