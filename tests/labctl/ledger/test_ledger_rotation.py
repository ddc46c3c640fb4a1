"""Key rotation: a record signed by old and new keys, then the new key alone; history verifies."""

from __future__ import annotations

from pathlib import Path

from labctl.ledger import keys, note
from labctl.ledger.audit import audit
from labctl.ledger.certificate import verify_certificate
from labctl.ledger.records import Document, JobTicket
from labctl.ledger.service import LedgerService

ORIGIN = "lab.example/ledger/v1"


def job(i: int) -> JobTicket:
    cad = Document(name="ring.stl", sha256=f"{i:064x}")
    return JobTicket(
        job_id=f"J{i}",
        customer_order="O",
        piece_ids=["P"],
        cad_file=cad,
        alloy="a",
        piece_class="thin",
    )


async def test_a_rotation_overlaps_both_keys_and_the_history_still_verifies(tmp_path: Path) -> None:
    old, new = tmp_path / "old.key", tmp_path / "new.key"
    old_vkey = keys.generate(old, ORIGIN).vkey
    new_vkey = keys.generate(new, ORIGIN).vkey
    db = tmp_path / "ledger.sqlite"
    service = await LedgerService.open(db, origin=ORIGIN, key_files=[old])
    await service.record(job(0))
    await service.close()
    # the overlap: both keys sign; the rotation record carries both signatures
    service = await LedgerService.open(db, origin=ORIGIN, key_files=[old, new])
    rotation = await service.rotate()
    entry = await service.ledger.entry(rotation.index)
    assert entry.leaf.count(b'"keyid"') == 2
    assert len([line for line in rotation.checkpoint.splitlines() if line.startswith("—")]) == 2
    await service.close()
    # the old key retired: new records are signed by the new key only
    service = await LedgerService.open(db, origin=ORIGIN, key_files=[new], retired_vkeys=[old_vkey])
    assert service.ledger.state.ok
    await service.record(job(2))
    old_entry = await service.find("job-ticket", "J0")
    assert old_entry is not None
    await service.export(old_entry, tmp_path / "cert", b"%PDF")
    await service.close()
    assert verify_certificate(tmp_path / "cert").subject == "J0"
    history = [note.parse_vkey(v) for v in (new_vkey, old_vkey)]
    report = await audit(db, origin=ORIGIN, verifiers=history)
    assert report.ok, report.problems
    only_new = await audit(db, origin=ORIGIN, verifiers=history[:1])
    assert not only_new.ok  # checkpoints before the rotation need the retired key
