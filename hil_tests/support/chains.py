"""Production chains for the HIL labs: one lot -> melt, job -> flask chain per cast.

A flask and a melt are cast once (the ledger refuses a second cast of either), so a lab that
casts several times records a chain for each cast: chain ``i`` has flask ``F-S<i>07`` and melt
``M-S<i>31`` (the demo's ids with ``S<i>`` in them).
"""

from __future__ import annotations

import json
from typing import Any

from labctl.sim.demo.records import demo_records

_IDS = ("L-2026-0141", "L-2026-0142", "M-0031", "J-1001", "F-0007", "T-0007")


def chain_records(
    n: int, alloy: str, piece_class: str, metal: str, fineness_ppt: int
) -> list[dict[str, Any]]:
    """``ledger_record`` payloads of ``n`` chains, each with its own ids."""
    out: list[dict[str, Any]] = []
    base = json.dumps(demo_records(alloy, piece_class, metal, fineness_ppt))
    for i in range(n):
        text = base
        for old in _IDS:
            text = text.replace(old, f"{old.split('-')[0]}-S{i}{old[-2:]}")
        out.extend(json.loads(text))
    return out


def flask_id(i: int) -> str:
    return f"F-S{i}07"


def melt_id(i: int) -> str:
    return f"M-S{i}31"


def cast_ids(i: int) -> dict[str, str]:
    """The ``cast_start`` arguments naming chain ``i``'s flask and melt."""
    return {"flask_id": flask_id(i), "melt_id": melt_id(i)}
