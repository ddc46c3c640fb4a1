"""DSSE v1 envelopes (secure-systems-lab/dsse protocol.md, envelope.md) signed with Ed25519.

Signatures cover ``PAE(payloadType, payload)``. Signers write standard base64; verifiers accept
standard or URL-safe base64, padded or not, but canonical (no stray padding bits). The `keyid`
only selects which trusted key to try: a signature whose keyid is no trusted key is ignored, a
signature from a trusted key that fails rejects the envelope, and one trusted signature is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from labctl.ledger.jcs import LedgerFormatError, LedgerSignatureError

IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


class DsseSigner(Protocol):
    """What `sign` needs of a key (`labctl.ledger.keys.Signer` is one)."""

    @property
    def keyid(self) -> str: ...
    def sign(self, message: bytes) -> bytes: ...


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSEv1 pre-authentication encoding; lengths are byte lengths in decimal."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope: the payload bytes, their type and the signatures over their PAE."""

    payload: bytes
    payload_type: str
    signatures: tuple[Signature, ...]

    def to_dict(self) -> dict[str, Any]:
        """The envelope JSON object (standard base64)."""
        return {
            "payload": base64.b64encode(self.payload).decode(),
            "payloadType": self.payload_type,
            "signatures": [
                {"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode()} for s in self.signatures
            ],
        }

    @classmethod
    def from_dict(cls, obj: object) -> Envelope:
        """Read an envelope JSON object; raises LedgerFormatError naming the bad field."""
        if not isinstance(obj, dict) or set(obj) != {"payload", "payloadType", "signatures"}:
            raise LedgerFormatError(
                "DSSE envelope", "must be an object with payload, payloadType and signatures"
            )
        sigs = obj["signatures"]
        if not isinstance(obj["payloadType"], str) or not isinstance(sigs, list) or not sigs:
            raise LedgerFormatError(
                "DSSE envelope", "payloadType must be a string, signatures a non-empty list"
            )
        signatures = []
        for i, entry in enumerate(sigs):
            if not isinstance(entry, dict) or not isinstance(entry.get("keyid", ""), str):
                raise LedgerFormatError(f"DSSE signature {i}", "must be an object with a keyid")
            if set(entry) - {"keyid", "sig"}:
                raise LedgerFormatError(f"DSSE signature {i}", "has fields other than keyid, sig")
            sig = b64decode_any(entry.get("sig"), f"DSSE signature {i}")
            signatures.append(Signature(entry.get("keyid", ""), sig))
        payload = b64decode_any(obj["payload"], "DSSE payload")
        return cls(payload, obj["payloadType"], tuple(signatures))

    @classmethod
    def from_json(cls, data: str | bytes) -> Envelope:
        """Parse envelope JSON text."""
        try:
            obj = json.loads(data)
        except (ValueError, RecursionError) as err:
            raise LedgerFormatError("DSSE envelope", f"is not valid JSON: {err}") from err
        return cls.from_dict(obj)


def b64decode_any(text: object, what: str) -> bytes:
    """Decode standard or URL-safe base64, padded or not; the encoding must be canonical."""
    if not isinstance(text, str) or not text.isascii():
        raise LedgerFormatError(what, "must be a base64 string")
    bare = text.rstrip("=")
    if len(text) - len(bare) > 2 or (len(text) != len(bare) and len(text) % 4):
        raise LedgerFormatError(what, "has wrong base64 padding")
    std = bare.replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError) as err:
        raise LedgerFormatError(what, f"is not valid base64 ({err})") from err
    if base64.b64encode(data).decode().rstrip("=") != std:
        raise LedgerFormatError(what, "is not canonical base64")
    return data


def sign(
    payload: bytes, signers: Sequence[DsseSigner], payload_type: str = IN_TOTO_PAYLOAD_TYPE
) -> Envelope:
    """Sign `payload` with every signer (at least one)."""
    if not signers:
        raise LedgerFormatError("DSSE envelope", "needs at least one signer")
    message = pae(payload_type, payload)
    return Envelope(
        payload, payload_type, tuple(Signature(s.keyid, s.sign(message)) for s in signers)
    )


@dataclass(frozen=True)
class VerifiedEnvelope:
    """A verified payload and the keyids of the trusted keys that signed it."""

    payload: bytes
    payload_type: str
    keyids: tuple[str, ...]


def verify(
    envelope: Envelope,
    trusted: Mapping[str, bytes],
    payload_type: str = IN_TOTO_PAYLOAD_TYPE,
) -> VerifiedEnvelope:
    """Verify against trusted raw Ed25519 public keys by keyid, then check the payload type."""
    message = pae(envelope.payload_type, envelope.payload)
    keyids: list[str] = []
    for sig in envelope.signatures:
        key = trusted.get(sig.keyid)
        if key is None:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(sig.sig, message)
        except (InvalidSignature, ValueError) as err:
            raise LedgerSignatureError(
                "DSSE envelope", f"the signature of trusted key {sig.keyid} is invalid"
            ) from err
        keyids.append(sig.keyid)
    if not keyids:
        raise LedgerSignatureError("DSSE envelope", "is not signed by any trusted key")
    if envelope.payload_type != payload_type:
        raise LedgerFormatError(
            "DSSE envelope", f"payloadType {envelope.payload_type!r} is not {payload_type!r}"
        )
    return VerifiedEnvelope(envelope.payload, envelope.payload_type, tuple(keyids))
