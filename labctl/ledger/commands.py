"""Ledger commands in the shared registry: record production data, export a certificate."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from labctl.commands import Caller, CommandRefused, CommandRegistry, Payload, Role
from labctl.ledger.metal import Melt, QaBalance
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import JobTicket, LotReceipt, Record, TreeFlask
from labctl.ledger.store import LedgerError

KINDS: dict[str, type[Record]] = {
    c.kind: c for c in (LotReceipt, Melt, JobTicket, TreeFlask, QaBalance)
}


class RecordPayload(Payload):
    """One production record, as its JSON fields (see ``labctl/ledger/records.py``)."""

    kind: Literal["lot-receipt", "melt", "job-ticket", "tree-flask", "qa-balance"]
    record: dict[str, Any]


class ExportPayload(Payload):
    """The cast whose certificate to write (``cast-<id>``)."""

    cast_id: str = Field(pattern=r"^cast-[0-9]{1,12}$")


class SizePayload(Payload):
    """An older tree size someone holds a checkpoint of."""

    size: int = Field(ge=1)


class NoPayload(Payload):
    """No arguments."""


def register_ledger_commands(
    registry: CommandRegistry, recorder: CastRecorder, certificates: Path
) -> None:
    """``ledger_record``, ``ledger_export`` and ``ledger_status``."""
    service = recorder.service

    async def record(p: RecordPayload, who: Caller) -> Mapping[str, object]:
        rec = _build(KINDS[p.kind], p.record)
        if isinstance(rec, Melt):
            await _check_lots(rec)
        try:
            appended = await service.record(rec)
        except LedgerError as err:
            raise CommandRefused(f"not recorded: {err}") from err
        # acknowledged only now: the entry and its checkpoint are committed
        return {"kind": p.kind, "id": rec.record_id, "index": appended.index, "by": who.name}

    async def export(p: ExportPayload, _: Caller) -> Mapping[str, object]:
        out = await recorder.export(p.cast_id, certificates / p.cast_id)
        return {"cast_id": p.cast_id, "certificate": str(out)}

    async def status(_: NoPayload, __: Caller) -> Mapping[str, object]:
        ledger = service.ledger
        return {
            "origin": ledger.origin,
            "size": ledger.size,
            "stopped": ledger.state.stopped,
            "vkeys": service.vkeys,
            "checkpoint": await ledger.checkpoint(),  # keep it: consistency proofs start here
        }

    async def _check_lots(melt: Melt) -> None:
        """Every input lot is recorded, and the melt copies its class, metal and fineness."""
        for used in melt.inputs:
            entry = await service.find("lot-receipt", used.lot_id)
            if entry is None:
                raise CommandRefused(f"melt: lot {used.lot_id} is not in the ledger")
            lot = LotReceipt.from_predicate(await recorder.predicate(entry.leaf))
            if (lot.coc_class, lot.metal, lot.fineness_ppt) != (
                used.coc_class,
                used.metal,
                used.fineness_ppt,
            ):
                raise CommandRefused(f"melt: lot {used.lot_id} differs from its receipt")

    async def consistency(p: SizePayload, _: Caller) -> Mapping[str, object]:
        ledger = service.ledger
        size = ledger.size
        if p.size > size:
            raise CommandRefused(f"the log has {size} entries, fewer than {p.size}")
        proof = await ledger.consistency_proof(p.size, size)
        return {
            "proof": [base64.b64encode(h).decode() for h in proof],
            "checkpoint": await ledger.checkpoint_at(size),
        }

    async def rotate(_: NoPayload, who: Caller) -> Mapping[str, object]:
        try:
            appended = await service.rotate()
        except LedgerError as err:
            raise CommandRefused(f"no rotation: {err}") from err
        return {"index": appended.index, "new_vkey": service.signers[1].vkey, "by": who.name}

    tech = Role.TECHNICIAN
    registry.register("ledger_record", RecordPayload, tech, record, "sign a production record")
    registry.register("ledger_export", ExportPayload, tech, export, "write a cast certificate")
    registry.register("ledger_status", NoPayload, Role.OBSERVER, status, "the ledger's state")
    registry.register("ledger_rotate", NoPayload, Role.SUPERVISOR, rotate, "record a key rotation")
    registry.register(
        "ledger_consistency", SizePayload, Role.OBSERVER, consistency, "append-only proof"
    )


def _build(cls: type[Record], data: Mapping[str, Any]) -> Record:
    try:
        return cls.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "record"
        raise CommandRefused(f"{cls.kind}: {field}: {first['msg']}") from None
