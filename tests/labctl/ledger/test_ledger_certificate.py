"""A certificate verifies offline with only log.vkey, and fails naming the file on any change."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tests.conftest import ExportCertificate

ORIGIN = "lab.example/ledger/v1"


@pytest.fixture
async def certificate(tmp_path: Path, export_certificate: ExportCertificate) -> Path:
    return await export_certificate(tmp_path, ORIGIN, 7, 3)


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
