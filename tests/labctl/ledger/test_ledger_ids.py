"""Ledger ids are unique per kind, references must exist, retries are idempotent.

Regression for issue 12, "Ledger ids are not unique": lot L-2026-0141 recorded again with
fineness 375 was accepted (and later melts were checked against it); a QA balance for a cast
that never existed was signed, and a second one silently replaced the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labctl.ledger.refs import refs_of
from labctl.ledger.service import LedgerService
from tests.labctl.ledger.chain_support import ORIGIN, cast_record, chain_lab

LOT = {
    "lot_id": "L-2026-0141", "received_at": "2026-11-20T09:00:00+00:00", "received_by": "demo",
    "supplier": {"name": "Demo Refining Ltd"}, "coc_class": "recycled", "metal": "gold",
    "fineness_ppt": 750, "mass_mg": 180_000,
}  # fmt: skip
QA: dict[str, Any] = {
    "cast_id": "cast-1", "input_mass_mg": 240_000, "scrap_mg": 100_000, "tolerance_ppt": 20,
    "pieces": [{"piece_id": "J-1001-R1", "mass_mg": 139_000}],
}  # fmt: skip


async def test_a_lot_recorded_again_is_refused_with_where_it_was(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        text = await lab.refused(
            "ledger_record", kind="lot-receipt", record=LOT | {"fineness_ppt": 375}
        )
        assert "lot-receipt L-2026-0141 is already in the ledger (index 0, recorded 20" in text
        assert "record a correction" in text
        found = await lab.recorder.service.current("lot-receipt", "L-2026-0141")
        assert found is not None
        assert found[1]["fineness_ppt"] == 750
        assert lab.recorder.service.ledger.size == 5  # nothing appended


async def test_a_correction_names_what_it_corrects_and_replaces_it(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        fixed = {"correction_id": "C-1", "corrects_kind": "lot-receipt",
                 "corrects_id": "L-2026-0141", "corrects_index": 0, "by": "ana",
                 "reason": "supplier's assay",
                 "replacement": LOT | {"mass_mg": 179_990}}  # fmt: skip
        text = await lab.refused(
            "ledger_record", kind="correction", record=fixed | {"corrects_index": 3}
        )
        assert "lot-receipt L-2026-0141 is at index 0, not at index 3" in text
        text = await lab.refused(
            "ledger_record", kind="correction", record=fixed | {"corrects_id": "L-404"}
        )
        assert "replacement must keep the id L-404" in text
        reply = await lab.command("ledger_record", kind="correction", record=fixed)
        assert reply["index"] == 5
        found = await lab.recorder.service.current("lot-receipt", "L-2026-0141")
        assert found is not None
        assert found[0].index == 0
        assert found[1]["mass_mg"] == 179_990
        assert found[1]["fine_metal_ug"] == 179_990 * 750


async def test_a_qa_balance_needs_its_cast_and_is_never_replaced(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        text = await lab.refused("ledger_record", kind="qa-balance", record=QA)
        assert "QA balance: cast cast-1 is not in the ledger" in text
        await lab.recorder.service.record(cast_record("cast-1", "F-0007", "M-0031"))
        first = await lab.command("ledger_record", kind="qa-balance", record=QA)
        text = await lab.refused(
            "ledger_record", kind="qa-balance", record=QA | {"scrap_mg": 90_000}
        )
        assert f"qa-balance cast-1 is already in the ledger (index {first['index']}" in text


async def test_a_flask_needs_its_jobs(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        flask = {"flask_id": "F-9", "tree_id": "T-9", "job_ids": ["J-404"]}
        text = await lab.refused("ledger_record", kind="tree-flask", record=flask)
        assert "flask F-9: job J-404 is not in the ledger" in text


async def test_a_retry_with_the_same_key_gets_the_first_answer(tmp_path: Path) -> None:
    async with chain_lab(tmp_path, demo=False) as lab:
        key = "tablet-7:0001"
        first = await lab.command(
            "ledger_record", kind="lot-receipt", record=LOT, idempotency_key=key
        )
        again = await lab.command(
            "ledger_record", kind="lot-receipt", record=LOT, idempotency_key=key
        )
        assert again == first
        assert first["index"] == 0
        assert lab.recorder.service.ledger.size == 1
        other = LOT | {"lot_id": "L-2026-0999"}
        text = await lab.refused(
            "ledger_record", kind="lot-receipt", record=other, idempotency_key=key
        )
        assert "already used for different content" in text
        assert lab.recorder.service.ledger.size == 1


async def test_references_are_rebuilt_for_a_ledger_made_before_them(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        await lab.recorder.service.record(cast_record("cast-1", "F-0007", "M-0031"))
        leaf = (await lab.recorder.service.find("cast-record", "cast-1")).leaf  # type: ignore[union-attr]
    assert refs_of("cast-record", leaf) == [("flask", "F-0007"), ("melt", "M-0031")]
    import sqlite3

    with sqlite3.connect(tmp_path / "ledger.sqlite") as conn:  # as made before the index
        for trigger in ("refs_no_update", "refs_no_delete"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("DROP TABLE refs")
    service = await LedgerService.open(
        tmp_path / "ledger.sqlite", origin=ORIGIN, key_files=[tmp_path / "log.key"]
    )
    try:
        (cast,) = await service.referring("cast-record", "flask", "F-0007")
        assert cast.subject == "cast-1"
    finally:
        await service.close()
