"""A cast certificate: files anyone can verify offline with only the lab's verifier key.

A certificate directory holds:

- ``record.dsse.json``: the record's DSSE envelope, as the JCS bytes that are the log leaf;
- ``record.tlog-proof``: a C2SP tlog-proof v1 (``c2sp.org/tlog-proof@v1``, ``index N``, the
  inclusion path in base64, a blank line, then the checkpoint note verbatim);
- ``log.vkey``: the log's verifier key(s), one signed-note vkey per line;
- ``certificate.pdf``: the human-readable page (a rendering, not evidence);
- ``MANIFEST``: a signed note (same key) with the SHA-256 of every other file, so a change of
  any byte in any file, the PDF included, fails verification with the file named.

:func:`verify_certificate` follows the tlog-proof verification steps (ledger.md §1.4, §1.10)
and raises :class:`CertificateError` saying exactly which check failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labctl.errors import LabctlError
from labctl.ledger import dsse, merkle, note, statement
from labctl.ledger.jcs import LedgerFormatError, canonical

PROOF_HEADER = "c2sp.org/tlog-proof@v1"
ENVELOPE, PROOF, VKEY, PDF, MANIFEST = (
    "record.dsse.json",
    "record.tlog-proof",
    "log.vkey",
    "certificate.pdf",
    "MANIFEST",
)


class CertificateError(LabctlError):
    """A certificate does not verify; the message names the file and the failed check."""


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A parsed C2SP tlog-proof."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: str  # the note verbatim

    def text(self) -> str:
        lines = [PROOF_HEADER, f"index {self.index}"]
        lines += [base64.b64encode(h).decode() for h in self.path]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        head, sep, checkpoint = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or lines[0] != PROOF_HEADER:
            raise CertificateError(f"{PROOF}: not a {PROOF_HEADER} proof")
        body = [line for line in lines[1:] if not line.startswith("extra ")]
        if not body or not re.fullmatch(r"index (0|[1-9][0-9]{0,15})", body[0]):
            raise CertificateError(f"{PROOF}: the index line is missing or malformed")
        try:
            path = tuple(base64.b64decode(line, validate=True) for line in body[1:])
        except (binascii.Error, ValueError) as err:  # ValueError: a non-ASCII character
            raise CertificateError(f"{PROOF}: an inclusion path line is not base64") from err
        return cls(int(body[0][6:]), path, checkpoint)


@dataclass(frozen=True, slots=True)
class VerifiedCertificate:
    """What a verified certificate proves."""

    kind: str
    subject: str
    predicate: dict[str, Any]
    index: int
    origin: str
    tree_size: int
    signed_by: tuple[str, ...]


def write_certificate(
    out: Path,
    *,
    leaf: bytes,
    proof: TlogProof,
    vkeys: list[str],
    pdf: bytes,
    signers: list[note.NoteSigner],
) -> None:
    """Write the certificate files and their signed manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    files = {
        ENVELOPE: leaf,
        PROOF: proof.text().encode(),
        VKEY: "".join(f"{v}\n" for v in vkeys).encode(),
        PDF: pdf,
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    body = "labctl certificate manifest v1\n" + "".join(
        f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items())
    )
    (out / MANIFEST).write_text(note.sign(body, signers))


def verify_certificate(directory: Path) -> VerifiedCertificate:
    """Verify a certificate with only its ``log.vkey``; CertificateError names what failed."""
    read = _reader(directory)
    try:
        verifiers = [note.parse_vkey(line) for line in read(VKEY).decode().splitlines() if line]
    except (LedgerFormatError, UnicodeDecodeError) as err:
        raise CertificateError(f"{VKEY}: {err}") from err
    if not verifiers:
        raise CertificateError(f"{VKEY}: no verifier key")
    _check_manifest(read, verifiers)
    leaf = read(ENVELOPE)
    trusted = {v.keyid: v.public_key for v in verifiers}
    try:
        envelope = dsse.Envelope.from_json(leaf)
        opened = dsse.verify(envelope, trusted)
        record = statement.parse(opened.payload)
    except LedgerFormatError as err:
        raise CertificateError(f"{ENVELOPE}: {err}") from err
    try:
        proof = TlogProof.parse(read(PROOF).decode())
        checkpoint = note.open_checkpoint(proof.checkpoint, verifiers)
    except (LedgerFormatError, UnicodeDecodeError) as err:
        raise CertificateError(f"{PROOF}: checkpoint: {err}") from err
    where = record.predicate.get("ledger", {})
    if where.get("index") != proof.index or where.get("origin") != checkpoint.origin:
        raise CertificateError(
            f"{ENVELOPE}: the record says index {where.get('index')} of {where.get('origin')}, "
            f"the proof is for index {proof.index} of {checkpoint.origin}"
        )
    if canonical(envelope.to_dict()) != leaf:
        raise CertificateError(f"{ENVELOPE}: not the canonical (JCS) bytes of the log leaf")
    if not merkle.verify_inclusion(
        proof.index, checkpoint.size, merkle.leaf_hash(leaf), list(proof.path), checkpoint.root
    ):
        raise CertificateError(
            f"{PROOF}: the inclusion proof of entry {proof.index} does not lead to the root of "
            f"the signed checkpoint (size {checkpoint.size})"
        )
    return VerifiedCertificate(
        kind=record.kind,
        subject=record.subject_name,
        predicate=dict(record.predicate),
        index=proof.index,
        origin=checkpoint.origin,
        tree_size=checkpoint.size,
        signed_by=opened.keyids,
    )


Reader = Callable[[str], bytes]


def _reader(directory: Path) -> Reader:
    def read(name: str) -> bytes:
        try:
            return (directory / name).read_bytes()
        except OSError as err:
            raise CertificateError(f"{name}: cannot read: {err.strerror}") from err

    return read


def _check_manifest(read: Reader, verifiers: list[note.Verifier]) -> None:
    try:
        opened = note.verify(read(MANIFEST), verifiers)
    except (LedgerFormatError, UnicodeDecodeError) as err:
        raise CertificateError(f"{MANIFEST}: {err}") from err
    lines = opened.text.splitlines()
    if not lines or lines[0] != "labctl certificate manifest v1":
        raise CertificateError(f"{MANIFEST}: not a labctl certificate manifest")
    listed: dict[str, str] = {}  # file name -> digest
    for line in lines[1:]:
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name in (ENVELOPE, PROOF, VKEY, PDF):
        if listed.get(name) != hashlib.sha256(read(name)).hexdigest():
            raise CertificateError(f"{name}: its SHA-256 is not the one in the signed {MANIFEST}")
