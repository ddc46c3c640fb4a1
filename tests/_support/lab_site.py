"""The site the test lab stands for: its names, its burnout profile, its ledger, its config.

One kiln ``k1`` and one caster ``c1``; a flask ``F-1`` of an 18k yellow gold job and a melt
``M-1`` already recorded in the ledger; a burnout profile short enough to run to its end in a
test; and the site config commissioning reads (the lab commissions no device).
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labctl.commission.daemon_run import LabLinks
from labctl.config.limits import CasterKind
from labctl.config.site import SiteConfig
from labctl.ledger import keys
from labctl.ledger.metal import Melt
from labctl.ledger.records import Document, JobTicket, LotReceipt, Supplier, TreeFlask
from labctl.ledger.service import LedgerService

REPO = Path(__file__).resolve().parents[2]
KILN, CASTER = "k1", "c1"
FLASK_ID, MELT_ID = "F-1", "M-1"
ALLOY = "gold-18k-yellow"  # medium pieces: flask at 566 ± 40 °C, pour at 1025 °C
FLASK_C = 566.0
PROFILE = "matrix-short"
#: A burnout a test can run to its end in ~100 ticks: step to 600 °C, soak 1 min, cool to
#: 590 °C (within the flask window of the alloy above) and hold there until the flask is taken.
PROFILE_TOML = f"""
schema_version = 1
name = "{PROFILE}"
description = "a short burnout for tests"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 760
casting_temp_c = 590
holdback_band_c = 15
holdback_limit_min = 10
soak_band_c = 10
[[segments]]
kind = "step"
target_c = 600
[[segments]]
kind = "hold"
hold_min = 1
[[segments]]
kind = "cool"
target_c = 590
rate_c_per_h = 1000
[[segments]]
kind = "final_hold"
"""


def profiles_dir(tmp: Path) -> Path:
    """The profile library (alloys as shipped) plus the short burnout profile."""
    out = tmp / "profiles"
    if not out.exists():
        shutil.copytree(REPO / "profiles" / "alloys", out / "alloys")
        (out / "burnout").mkdir(parents=True)
        (out / "burnout" / f"{PROFILE}.toml").write_text(PROFILE_TOML)
    return out


async def open_ledger(tmp: Path) -> LedgerService:
    """A ledger with the flask and the melt the casts use already recorded."""
    origin = "matrix.example/ledger/v1"
    key = tmp / "log.key"
    fresh = not key.exists()
    if fresh:
        keys.generate(key, origin)
    service = await LedgerService.open(tmp / "ledger.sqlite", origin=origin, key_files=[key])
    if fresh:
        lot = lot_receipt(1)
        await service.record(lot)
        await service.record(Melt.from_lots(MELT_ID, ALLOY, [(lot, 100_000)], 99_000))
        await service.record(job_ticket("J-1"))
        await service.record(TreeFlask(flask_id=FLASK_ID, tree_id="T-1", job_ids=["J-1"]))
    return service


def lot_receipt(n: int) -> LotReceipt:
    """Lot ``L-n``: 100 g of recycled 18k gold, received on the n-th of March 2025."""
    return LotReceipt.model_validate(
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


def job_ticket(job_id: str) -> JobTicket:
    return JobTicket(
        job_id=job_id,
        customer_order="O-17",
        piece_ids=[f"{job_id}-a"],
        cad_file=Document(name="ring.stl", sha256="0" * 64),
        alloy=ALLOY,
        piece_class="medium",
    )


def _no_device(name: str) -> Any:
    raise AssertionError(f"the matrix commissions no device ({name})")


NO_LINKS = LabLinks(_no_device, _no_device)


def matrix_site(kiln_mode: str, caster_kind: CasterKind) -> SiteConfig:
    """The site config of the lab below (what commissioning reads of its devices)."""
    vacuum = caster_kind is CasterKind.VACUUM
    return SiteConfig.model_validate(
        {
            "lab": {
                "name": "matrix",
                "allow_uncommissioned": [KILN, CASTER] if kiln_mode == "stream" else [CASTER],
            },
            "buses": {"rs485": {"kind": "rtu", "port": "/dev/ttyUSB0"}},
            "lines": {"gauge_line": {"port": "/dev/ttyUSB1"}},
            "devices": {
                "kiln_tc": {"family": "eurotherm3200", "bus": "rs485", "unit": 1},
                "crucible": {"family": "eurotherm3200", "bus": "rs485", "unit": 2},
                "io": {"family": "iomodule", "bus": "rs485", "unit": 3},
                "drive": {"family": "delta_vfd", "bus": "rs485", "unit": 4},
                "gauge": {"family": "tpg36x", "line": "gauge_line"},
            },
            "kilns": {KILN: {"controller": "kiln_tc", "mode": kiln_mode, "max_temp_c": 760}},
            "casters": {
                CASTER: {
                    "kind": caster_kind.value,
                    "crucible": "crucible",
                    "io": "io",
                    **({"gauge": "gauge"} if vacuum else {"drive": "drive"}),
                    "crucible_max_c": 1450,
                }
            },
        }
    )
