"""Cast certificates: any change to any file of a valid certificate fails verification with a
CertificateError naming a file; the parsers of its formats fail only with the ledger's errors.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from labctl.ledger import dsse, note
from labctl.ledger.certificate import (
    ENVELOPE,
    MANIFEST,
    PDF,
    PROOF,
    VKEY,
    CertificateError,
    TlogProof,
    verify_certificate,
)
from labctl.ledger.jcs import LedgerFormatError
from tests.fuzz.support import fuzz, mutated, says

if TYPE_CHECKING:
    from tests.conftest import ExportCertificate

ORIGIN = "lab.example/ledger/v1"
FILES = (ENVELOPE, PROOF, VKEY, PDF, MANIFEST)


@pytest.fixture(scope="module")
def certificate(
    tmp_path_factory: pytest.TempPathFactory, export_certificate: ExportCertificate
) -> Path:
    cert = asyncio.run(export_certificate(tmp_path_factory.mktemp("ledger"), ORIGIN, 5, 2))
    verify_certificate(cert)
    return cert


@fuzz(200)
@given(name=st.sampled_from(FILES), data=st.data())
def test_any_change_to_any_file_fails_naming_a_file(
    certificate: Path, tmp_path: Path, name: str, data: st.DataObject
) -> None:
    copy = tmp_path / "cert"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(certificate, copy)
    original = (copy / name).read_bytes()
    changed = data.draw(
        mutated(st.just(original)) | st.binary(max_size=300) | st.just(original[:-1]), label="file"
    )
    if changed == original:
        (copy / name).unlink()  # a missing file is a change too
    else:
        (copy / name).write_bytes(changed)
    with pytest.raises(CertificateError) as err:
        verify_certificate(copy)
    assert any(f in str(err.value) for f in FILES), str(err.value)


@fuzz(300)
@given(text=st.text(max_size=200), data=st.data())
def test_note_vkey_and_envelope_parsers_fail_only_with_ledger_errors(
    certificate: Path, text: str, data: st.DataObject
) -> None:
    verifiers = [note.parse_vkey((certificate / VKEY).read_text().strip())]
    manifest = (certificate / MANIFEST).read_bytes()
    envelope = (certificate / ENVELOPE).read_bytes()
    note_input = data.draw(mutated(st.just(manifest)) | st.just(text.encode()), label="note")
    env_input = data.draw(mutated(st.just(envelope)) | st.just(text.encode()), label="envelope")
    for parse in (
        lambda: note.parse_vkey(text),
        lambda: note.verify(note_input, verifiers),
        lambda: note.Checkpoint.parse(text),
        lambda: dsse.Envelope.from_json(env_input),
    ):
        try:
            parse()
        except LedgerFormatError as err:
            says(err, err.what)


@fuzz(300)
@example(index="²")
@given(index=st.text(max_size=12) | st.integers(0, 10**20).map(str))
def test_a_tlog_proof_parses_or_is_a_certificate_error(certificate: Path, index: str) -> None:
    proof = (certificate / PROOF).read_text()
    head, rest = proof.split("\n", 1)
    rest = rest.split("\n", 1)[1]  # drop the real index line
    try:
        parsed = TlogProof.parse(f"{head}\nindex {index}\n{rest}")
    except CertificateError as err:
        says(err, PROOF)
    else:
        assert parsed.index == int(index)


def test_a_checkpoint_with_a_5000_digit_size_is_a_format_error() -> None:
    root = base64.b64encode(bytes(32)).decode()
    with pytest.raises(LedgerFormatError) as err:
        note.Checkpoint.parse(f"{ORIGIN}\n{'9' * 5000}\n{root}\n")
    says(err.value, "checkpoint size")
