"""A certificate verifies offline with only log.vkey, and fails naming the file on any change."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.ledger import keys
from labctl.ledger.certificate import (
    ENVELOPE,
    MANIFEST,
    PDF,
    PROOF,
    VKEY,
    CertificateError,
    verify_certificate,
)
from labctl.ledger.records import Document, JobTicket
from labctl.ledger.service import LedgerService

ORIGIN = "lab.example/ledger/v1"


def job(i: int) -> JobTicket:
    return JobTicket(
        job_id=f"J{i}",
        customer_order="O-17",
        piece_ids=[f"P{i}a", f"P{i}b"],
        cad_file=Document(name=f"ring{i}.stl", sha256=f"{i:064x}"),
        alloy="gold-18k-yellow",
        piece_class="medium",
    )


@pytest.fixture
async def certificate(tmp_path: Path) -> Path:
    keys.generate(tmp_path / "log.key", ORIGIN)
    service = await LedgerService.open(
        tmp_path / "ledger.sqlite", origin=ORIGIN, key_files=[tmp_path / "log.key"]
    )
    try:
        for i in range(7):
            acked = await service.record(job(i))
            assert acked.index == i
        entry = await service.find("job-ticket", "J3")
        assert entry is not None
        await service.export(entry, tmp_path / "cert", b"%PDF-1.4 a rendering\n")
    finally:
        await service.close()
    return tmp_path / "cert"


def test_a_certificate_verifies_with_only_its_vkey(certificate: Path) -> None:
    verified = verify_certificate(certificate)
    assert (verified.kind, verified.subject, verified.index) == ("job-ticket", "J3", 3)
    assert verified.tree_size == 7 and verified.origin == ORIGIN
    assert verified.predicate["piece_ids"] == ["P3a", "P3b"]


@pytest.mark.parametrize("name", [ENVELOPE, PROOF, VKEY, PDF, MANIFEST])
def test_any_changed_byte_in_any_file_fails_naming_a_file(certificate: Path, name: str) -> None:
    path = certificate / name
    original = path.read_bytes()
    for position in range(0, len(original), max(1, len(original) // 40)):
        changed = bytearray(original)
        changed[position] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises(CertificateError) as err:
            verify_certificate(certificate)
        assert any(f in str(err.value) for f in (ENVELOPE, PROOF, VKEY, PDF, MANIFEST))
    path.write_bytes(original)
    verify_certificate(certificate)


def test_a_certificate_of_another_lab_key_fails(certificate: Path, tmp_path: Path) -> None:
    other = keys.generate(tmp_path / "other.key", ORIGIN)
    (certificate / VKEY).write_text(other.vkey + "\n")
    with pytest.raises(CertificateError, match=MANIFEST):
        verify_certificate(certificate)
