"""A ledger with a run store, the demo chain recorded, and a registry of its commands."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.config.users import Role
from labctl.ledger import keys
from labctl.ledger.burnout import KilnHistory
from labctl.ledger.commands import register_ledger_commands
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import CastRecord
from labctl.ledger.service import LedgerService
from labctl.runs.store import RunStore
from labctl.sim.demo.records import demo_records

ORIGIN = "test.labctl.invalid/ledger/v1"
TECH = Caller("ana", Role.TECHNICIAN)
GOLD = "gold-18k-yellow"
PROFILES = Path(__file__).resolve().parents[3] / "profiles"


@dataclass
class ChainLab:
    recorder: CastRecorder
    store: RunStore
    registry: CommandRegistry
    alarms: list[str] = field(default_factory=list)

    async def command(self, name: str, **payload: Any) -> Mapping[str, object]:
        return await self.registry.dispatch(name, payload, TECH)

    async def refused(self, name: str, **payload: Any) -> str:
        try:
            reply = await self.command(name, **payload)
        except CommandRefused as err:
            return str(err)
        raise AssertionError(f"{name} was accepted: {reply}")


@asynccontextmanager
async def chain_lab(tmp: Path, *, demo: bool = True) -> AsyncIterator[ChainLab]:
    keys.generate(tmp / "log.key", ORIGIN)
    service = await LedgerService.open(
        tmp / "ledger.sqlite", origin=ORIGIN, key_files=[tmp / "log.key"]
    )
    store = await RunStore.open(tmp / "runs.sqlite")
    alarms: list[str] = []
    recorder = CastRecorder(service, tmp / "archive", KilnHistory(store), alarms.append)
    registry = CommandRegistry()
    register_ledger_commands(registry, recorder, tmp / "certificates")
    lab = ChainLab(recorder, store, registry, alarms)
    try:
        if demo:
            for record in demo_records(GOLD, "medium", "gold", 750):
                await lab.command("ledger_record", **record)
        yield lab
    finally:
        await service.close()
        await store.close()


def cast_record(cast_id: str, flask_id: str, melt_id: str, outcome: str = "complete") -> CastRecord:
    """A signed cast record as the recorder writes it (a completed vacuum cast by default)."""
    confirmed = [{"step": "flask_placed", "by": "ana", "at": datetime.now(UTC)}]
    return CastRecord.model_validate(
        {
            "cast_id": cast_id,
            "flask_id": flask_id,
            "melt_id": melt_id,
            "kiln_id": "kiln1",
            "caster_id": "caster1",
            "burnout_profile": "gypsum-wax-small",
            "alloy": GOLD,
            "confirmations": confirmed if outcome == "complete" else [],
            "process": {
                "peak_kiln_c": 730,
                "flask_c_at_cast": 540,
                "pour_c": 1010,
                "min_vacuum_pa": 8000 if outcome == "complete" else None,
                "outcome": outcome,
            },
            "telemetry": {"file_name": f"{cast_id}.series.json", "sha256": "ab" * 32},
        }
    )
