"""Ledger commands in the shared registry: record production data, export a certificate."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError

from labctl.commands.idempotency import IdempotencyKey, Repeated, once, repeated
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.ledger.metal import Melt, QaBalance
from labctl.ledger.ops_records import Correction
from labctl.ledger.recorder import CastRecorder
from labctl.ledger.records import JobTicket, LotReceipt, Record, TreeFlask
from labctl.ledger.service import LedgerService
from labctl.ledger.store_reads import LedgerError

KINDS: dict[str, type[Record]] = {
    c.kind: c for c in (LotReceipt, Melt, JobTicket, TreeFlask, QaBalance, Correction)
}


class RecordPayload(Payload):
    """One production record, as its JSON fields (see ``labctl/ledger/records.py``)."""

    kind: Literal["lot-receipt", "melt", "job-ticket", "tree-flask", "qa-balance", "correction"]
    record: dict[str, Any]
    idempotency_key: str | None = IdempotencyKey


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
        answer = {"kind": p.kind, "id": rec.record_id, "by": who.name}
        content = p.model_dump(include={"kind", "record"})
        request = once("ledger_record", p.idempotency_key, content, answer)
        if request is not None and (seen := await service.ledger.recall(request.key)):
            return _repeated(repeated(request, seen))
        await check_refs(service, rec)
        try:
            appended = await service.record(rec, request)
        except Repeated as err:  # a retry that raced the first request
            return _repeated(err)
        except LedgerError as err:
            raise CommandRefused(f"not recorded: {err}") from err
        # acknowledged only now: the entry and its checkpoint are committed
        return {**answer, "index": appended.index}

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


def _repeated(err: Repeated) -> Mapping[str, object]:
    if not err.same:
        raise CommandRefused(str(err))
    return err.answer


async def check_refs(service: LedgerService, rec: Record) -> None:
    """CommandRefused unless every record ``rec`` refers to is in the ledger (as corrected)."""
    if isinstance(rec, Melt):
        for used in rec.inputs:  # every input lot is recorded; the melt copies its facts
            found = await service.current("lot-receipt", used.lot_id)
            if found is None:
                raise CommandRefused(f"melt: lot {used.lot_id} is not in the ledger")
            lot = LotReceipt.from_predicate(found[1])
            mine = (used.coc_class, used.metal, used.fineness_ppt)
            if (lot.coc_class, lot.metal, lot.fineness_ppt) != mine:
                raise CommandRefused(f"melt: lot {used.lot_id} differs from its receipt")
    elif isinstance(rec, TreeFlask):
        for job_id in rec.job_ids:
            if await service.find("job-ticket", job_id) is None:
                raise CommandRefused(f"flask {rec.flask_id}: job {job_id} is not in the ledger")
    elif isinstance(rec, QaBalance):
        if await service.find("cast-record", rec.cast_id) is None:
            raise CommandRefused(f"QA balance: cast {rec.cast_id} is not in the ledger")
    elif isinstance(rec, Correction):
        entry = await service.find(rec.corrects_kind, rec.corrects_id)
        if entry is None or entry.index != rec.corrects_index:
            where = "not in the ledger" if entry is None else f"at index {entry.index}"
            raise CommandRefused(
                f"correction: {rec.corrects_kind} {rec.corrects_id} is {where}, "
                f"not at index {rec.corrects_index}"
            )
