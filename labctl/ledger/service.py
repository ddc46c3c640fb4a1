"""The daemon's ledger: production records signed into the log, certificates exported.

:meth:`LedgerService.record` builds the in-toto Statement of a record inside the append
transaction (it commits to its own index and the previous leaf hash), signs it as a DSSE
envelope with every current key, and returns only after the entry and its signed checkpoint
are durably committed: only then may a record be acknowledged to anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from labctl import __version__
from labctl.commands.idempotency import Once
from labctl.ledger import dsse, statement
from labctl.ledger.certificate import TlogProof, write_certificate
from labctl.ledger.keys import Signer, load
from labctl.ledger.ops_records import CORRECTABLE, KeyRotation
from labctl.ledger.records import Record
from labctl.ledger.refs import references, refs_of
from labctl.ledger.store import Appended, Ledger
from labctl.ledger.store_reads import Entry, LedgerError

SOFTWARE = {"name": "labctl", "version": __version__}


class LedgerService:
    """One open ledger and the keys that sign its records and checkpoints."""

    def __init__(
        self, ledger: Ledger, signers: Sequence[Signer], retired: Sequence[str] = ()
    ) -> None:
        self.ledger, self.signers, self.retired = ledger, tuple(signers), tuple(retired)
        self.closing: list[Callable[[], Awaitable[None]]] = []  # run first by close()

    @classmethod
    async def open(
        cls,
        path: Path,
        *,
        origin: str,
        key_files: Sequence[Path],
        retired_vkeys: Sequence[str] = (),
        on_alarm: Callable[[str], None] | None = None,
    ) -> LedgerService:
        signers = [load(key, origin) for key in key_files]
        ledger = await Ledger.open(
            path, origin=origin, signers=signers, on_alarm=on_alarm, refs_of=refs_of
        )
        return cls(ledger, signers, retired_vkeys)

    @property
    def vkeys(self) -> list[str]:
        """The key history: current keys first, then retired ones (for older checkpoints)."""
        return [s.vkey for s in self.signers] + list(self.retired)

    async def rotate(self) -> Appended:
        """Record the second key as the new one, signed by both (the overlap has begun)."""
        if len(self.signers) != 2:
            raise LedgerError("a rotation needs the old and the new key in key_files (two)")
        new = self.signers[1]
        return await self.record(KeyRotation(new_vkey=new.vkey, effective_index=self.ledger.size))

    async def record(self, rec: Record, once: Once | None = None) -> Appended:
        """Sign ``rec`` into the log; returns after the commit (raises LedgerStopped if not).

        Refused with :class:`~labctl.ledger.store.Duplicate` if a record of its kind and id is
        already there, and :class:`~labctl.commands.idempotency.Repeated` if ``once``'s key was
        used.
        """

        def build(index: int, prev_leaf_hash: bytes) -> bytes:
            where = {
                "origin": self.ledger.origin,
                "index": index,
                "prev_leaf_hash": prev_leaf_hash.hex(),
            }
            predicate = {**rec.predicate(), "ledger": where, "software": SOFTWARE}
            payload = statement.build(rec.kind, rec.record_id, predicate).payload()
            return statement.leaf_bytes(dsse.sign(payload, self.signers).to_dict())

        refs = references(rec.kind, rec.predicate())
        return await self.ledger.append(
            build, kind=rec.kind, subject=rec.record_id, unique=True, refs=refs, once=once
        )

    async def find(self, kind: str, subject: str) -> Entry | None:
        """The latest entry of ``kind`` about ``subject``, if any."""
        return await self.ledger.find(kind, subject)

    async def current(self, kind: str, subject: str) -> tuple[Entry, dict[str, Any]] | None:
        """The record of ``kind`` about ``subject`` and its predicate as last corrected."""
        entry = await self.ledger.find(kind, subject)
        if entry is None:
            return None
        predicate = predicate_of(entry.leaf)
        corrections = await self.ledger.referring("correction", f"corrects:{kind}", subject)
        if corrections:
            replacement = predicate_of(corrections[-1].leaf)["replacement"]
            predicate = CORRECTABLE[kind].model_validate(replacement).predicate()
        return entry, predicate

    async def referring(self, kind: str, field: str, value: str) -> list[Entry]:
        """Entries of ``kind`` that refer to ``value`` as ``field`` (e.g. casts of a flask)."""
        return await self.ledger.referring(kind, field, value)

    async def latest(self, kind: str, limit: int = 50) -> list[Entry]:
        """The newest entries of ``kind``, newest first."""
        return await self.ledger.latest(kind, limit)

    async def export(self, entry: Entry, out: Path, pdf: bytes) -> None:
        """Write ``entry``'s certificate (envelope, tlog-proof, vkeys, page, manifest)."""
        size = self.ledger.size
        checkpoint = await self.ledger.checkpoint_at(size)
        assert checkpoint is not None  # every append writes the checkpoint of its size
        proof = await self.ledger.inclusion_proof(entry.index, size)
        write_certificate(
            out,
            leaf=entry.leaf,
            proof=TlogProof(entry.index, tuple(proof), checkpoint),
            vkeys=self.vkeys,
            pdf=pdf,
            signers=list(self.signers),
        )

    async def close(self) -> None:
        """Run ``closing`` (each once, in order), then close the ledger."""
        closing, self.closing = self.closing, []
        try:
            for close in closing:
                await close()
        finally:
            await self.ledger.close()


def predicate_of(leaf: bytes) -> dict[str, Any]:
    """The predicate of a stored entry (its envelope was verified when it was appended)."""
    return dict(statement.parse(dsse.Envelope.from_json(leaf).payload).predicate)
