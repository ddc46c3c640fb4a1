"""The production records the demo signs before it casts: lot, melt, job ticket, flask."""

from __future__ import annotations

from typing import Any


def demo_records(
    alloy: str, piece_class: str, metal: str, fineness_ppt: int
) -> list[dict[str, Any]]:
    """``ledger_record`` payloads for the chain lot -> melt, job -> flask (two lots, one melt)."""
    lots = [
        ("L-2026-0141", "recycled", 180_000),
        ("L-2026-0142", "mined", 61_337),
    ]
    records: list[dict[str, Any]] = [
        {
            "kind": "lot-receipt",
            "record": {
                "lot_id": lot_id,
                "received_at": "2026-11-20T09:00:00+00:00",
                "received_by": "demo",
                "supplier": {"name": "Demo Refining Ltd"},
                "coc_class": coc,
                "metal": metal,
                "fineness_ppt": fineness_ppt,
                "mass_mg": mass,
            },
        }
        for lot_id, coc, mass in lots
    ]
    records.append(
        {
            "kind": "melt",
            "record": {
                "melt_id": "M-0031",
                "alloy": alloy,
                "inputs": [
                    {"lot_id": lot_id, "mass_mg": mass, "coc_class": coc, "metal": metal,
                     "fineness_ppt": fineness_ppt}
                    for lot_id, coc, mass in lots
                ],
                "result_mass_mg": 240_911,
            },
        }
    )  # fmt: skip
    records.append(
        {
            "kind": "job-ticket",
            "record": {
                "job_id": "J-1001",
                "customer_order": "ORD-77",
                "piece_ids": ["J-1001-R1", "J-1001-R2"],
                "cad_file": {"name": "solitaire.stl", "sha256": "5" * 64},
                "alloy": alloy,
                "piece_class": piece_class,
            },
        }
    )
    records.append(
        {
            "kind": "tree-flask",
            "record": {"flask_id": "F-0007", "tree_id": "T-0007", "job_ids": ["J-1001"]},
        }
    )
    return records
