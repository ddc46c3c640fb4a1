"""The chain is checked where a cast is started and signed: alloy, fineness, not cast twice.

Regression for issue 12, "A cast from the wrong metal is signed": a second cast reusing an
already-cast flask and melt, as silver 925 from an 18 kt gold melt, was accepted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labctl.cast.summary import CastOrigin, state_json
from labctl.commands.registry import CommandRefused
from labctl.ledger.chain import check_origin
from labctl.profiles.alloys import Alloy, load_alloy
from labctl.runs.state import OutcomeKind
from tests.labctl.ledger.chain_support import GOLD, PROFILES, ChainLab, cast_record, chain_lab


def alloy(name: str) -> Alloy:
    return load_alloy(PROFILES / "alloys" / f"{name}.toml")


def origin(flask_id: str = "F-0007", melt_id: str = "M-0031") -> CastOrigin:
    return CastOrigin(kiln="kiln1", flask_c=566.0, flask_id=flask_id, melt_id=melt_id)


async def refusal(lab: ChainLab, where: CastOrigin, metal: Alloy) -> str:
    with pytest.raises(CommandRefused) as refused:
        await lab.recorder.check_origin(where, metal)
    return str(refused.value)


async def test_the_demo_chain_may_be_cast_in_its_alloy(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        await lab.recorder.check_origin(origin(), alloy(GOLD))


async def test_silver_from_an_18k_gold_melt_is_refused(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        text = await refusal(lab, origin(), alloy("silver-925"))
    assert "melt M-0031 is gold-18k-yellow; this cast is silver-925 (silver 925 ‰)" in text


async def test_a_melt_under_the_alloys_fineness_is_refused(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        lot = {"lot_id": "L-14K", "received_at": "2026-11-20T09:00:00+00:00",
               "received_by": "ana", "supplier": {"name": "Refiner"}, "coc_class": "recycled",
               "metal": "gold", "fineness_ppt": 585, "mass_mg": 1000}  # fmt: skip
        await lab.command("ledger_record", kind="lot-receipt", record=lot)
        melt = {"melt_id": "M-LOW", "alloy": GOLD, "result_mass_mg": 1000, "inputs": [
            {"lot_id": "L-14K", "mass_mg": 1000, "coc_class": "recycled", "metal": "gold",
             "fineness_ppt": 585}]}  # fmt: skip
        await lab.command("ledger_record", kind="melt", record=melt)
        text = await refusal(lab, origin(melt_id="M-LOW"), alloy(GOLD))
    assert "melt M-LOW is 585 ‰ gold; this cast is gold-18k-yellow (gold 750 ‰)" in text


async def test_a_flask_whose_jobs_are_in_another_alloy_is_refused(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        job = {"job_id": "J-AG", "customer_order": "O-1", "piece_ids": ["J-AG-1"],
               "cad_file": {"name": "r.stl", "sha256": "5" * 64}, "alloy": "silver-925",
               "piece_class": "medium"}  # fmt: skip
        await lab.command("ledger_record", kind="job-ticket", record=job)
        flask = {"flask_id": "F-AG", "tree_id": "T-AG", "job_ids": ["J-AG"]}
        await lab.command("ledger_record", kind="tree-flask", record=flask)
        text = await refusal(lab, origin(flask_id="F-AG"), alloy(GOLD))
    assert "flask F-AG holds job J-AG in silver-925; this cast is gold-18k-yellow" in text


async def test_a_flask_and_melt_already_cast_are_refused(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        await lab.recorder.service.record(cast_record("cast-1", "F-0007", "M-0031"))
        text = await refusal(lab, origin(), alloy(GOLD))
        assert "flask F-0007 was already cast: cast-1 (complete, ledger index 5)" in text
        flask = {"flask_id": "F-0008", "tree_id": "T-0008", "job_ids": ["J-1001"]}
        await lab.command("ledger_record", kind="tree-flask", record=flask)
        text = await refusal(lab, origin(flask_id="F-0008"), alloy(GOLD))
        assert "melt M-0031 was already cast: cast-1" in text


async def test_a_cast_that_ended_before_the_flask_was_placed_leaves_both(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        await lab.recorder.service.record(cast_record("cast-1", "F-0007", "M-0031", "aborted"))
        await lab.recorder.check_origin(origin(), alloy(GOLD))


async def test_a_running_or_unrecorded_cast_holds_its_flask(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        run_id = await lab.store.create_run(
            kiln="caster1", profile_name=GOLD, profile_json="{}", mode="vacuum",
            started_by="ana", state_json=state_json("melt", origin(), []), at_wall=1.0,
        )  # fmt: skip
        text = await refusal(lab, origin(), alloy(GOLD))
        assert f"flask F-0007 is in cast {run_id} on caster1, still running" in text
        confirmed = state_json("pour", origin(), [("flask_placed", "ana", 2.0)])
        await lab.store.save_state(run_id, state_json=confirmed, at_wall=2.0)
        await lab.store.end_run(
            run_id, outcome_kind=OutcomeKind.FAULTED, reason="x", by=None, at_wall=3.0
        )
        text = await refusal(lab, origin(), alloy(GOLD))  # the ledger never got its record
        assert f"flask F-0007 was already cast: cast-{run_id}" in text


async def test_without_a_run_store_the_ledger_alone_is_checked(tmp_path: Path) -> None:
    async with chain_lab(tmp_path) as lab:
        await check_origin(lab.recorder.service, None, origin(), alloy(GOLD))
        assert json.loads(state_json("x", origin(), []))["origin"]["flask_id"] == "F-0007"
