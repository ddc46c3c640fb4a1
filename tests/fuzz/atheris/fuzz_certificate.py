"""Atheris: signed notes, vkeys, checkpoints, DSSE envelopes and tlog-proofs from bytes."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from labctl.ledger import dsse, note
    from labctl.ledger.certificate import CertificateError, TlogProof
    from labctl.ledger.jcs import LedgerFormatError

import contextlib

from tests.fuzz.atheris.common import run

VKEY = "lab.example/ledger/v1+3bd2a9a2+AXb4aGKd9xA4HDF6k3AmDKJK5PSShuDIq8ALPV9BGt3f"


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    text = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 1024))
    raw = fdp.ConsumeBytes(fdp.remaining_bytes())
    verifiers: list[note.Verifier] = []
    with contextlib.suppress(LedgerFormatError):
        verifiers.append(note.parse_vkey(VKEY))
    for parse in (
        lambda: note.parse_vkey(text),
        lambda: note.Checkpoint.parse(text),
        lambda: note.verify(raw, verifiers),
        lambda: dsse.Envelope.from_json(raw),
    ):
        with contextlib.suppress(LedgerFormatError):
            parse()
    with contextlib.suppress(CertificateError):
        TlogProof.parse(text)


TestOneInput = test_one_input

if __name__ == "__main__":
    run(TestOneInput)
