"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 keys, and tlog-checkpoint bodies.

A note is its text (ending in a newline), one blank line, then signature lines
``— <key name> <base64(4-byte key id || signature)>``. Verification follows the spec: signatures
from unknown (name, key id) pairs are ignored, a bad signature from a trusted key rejects the
note, and at least one trusted signature is required. Base64 must be canonical, so a changed
padding bit is a changed note.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from labctl.ledger.jcs import LedgerFormatError, LedgerSignatureError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "
MAX_SIGNATURES = 100


class NoteSigner(Protocol):
    """What `sign` needs of a key (`labctl.ledger.keys.Signer` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def key_id(self) -> bytes: ...
    def sign(self, message: bytes) -> bytes: ...


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def check_key_name(name: str) -> str:
    """Return `name` if it is a valid key name: non-empty, no Unicode space, no '+'."""
    if not name or "+" in name or any(c.isspace() or _is_control(c) for c in name):
        raise LedgerFormatError(
            f"key name {name!r}", "must be non-empty, without spaces, '+' or control characters"
        )
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || 0x01 || Ed25519 public key)[:4]."""
    data = check_key_name(name).encode() + b"\n" + bytes([ALG_ED25519]) + public_key
    return hashlib.sha256(data).digest()[:4]


def vkey(name: str, public_key: bytes) -> str:
    """The verifier key string ``name+hex(key id)+base64(0x01 || public key)``."""
    encoded = _b64(bytes([ALG_ED25519]) + public_key)
    return f"{name}+{key_id(name, public_key).hex()}+{encoded}"


def b64decode_strict(text: str, what: str) -> bytes:
    """Decode standard, padded, canonical base64 (re-encoding gives back `text`)."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise LedgerFormatError(what, f"is not valid base64 ({err})") from err
    if _b64(data) != text:
        raise LedgerFormatError(what, "is not canonical base64")
    return data


@dataclass(frozen=True)
class Verifier:
    """A trusted note key: its name, 4-byte key id and Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @property
    def keyid(self) -> str:
        """The key id as hex, also used as the DSSE `keyid`."""
        return self.key_id.hex()

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


def parse_vkey(text: str) -> Verifier:
    """Parse a verifier key string; the key id must match the name and key."""
    what = f"verifier key {text.strip()!r}"
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise LedgerFormatError(what, "expected name+keyid+base64(key)")
    name, hex_id, encoded = parts
    check_key_name(name)
    key = b64decode_strict(encoded, what)
    if len(key) != 33 or key[0] != ALG_ED25519:
        raise LedgerFormatError(what, "is not an Ed25519 (type 0x01) key of 32 bytes")
    if hex_id != key_id(name, key[1:]).hex():
        raise LedgerFormatError(what, f"key id {hex_id} does not match the name and key")
    return Verifier(name, bytes.fromhex(hex_id), key[1:])


def sign(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign `text` (which must end with a newline) with every signer; returns the note."""
    message = _check_text(text).encode()
    if not signers:
        raise LedgerFormatError("note", "needs at least one signer")
    lines = [
        f"{SIG_PREFIX}{check_key_name(s.name)} {_b64(s.key_id + s.sign(message))}\n"
        for s in signers
    ]
    return text + "\n" + "".join(lines)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class VerifiedNote:
    """A note's signed text and the trusted keys whose signatures verified."""

    text: str
    verified_by: tuple[Verifier, ...]


def verify(note: str | bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Check a note against trusted keys; raises LedgerFormatError or LedgerSignatureError."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as err:
            raise LedgerFormatError("note", "is not valid UTF-8") from err
    text, sep, block = note.rpartition("\n\n")
    if not sep or not block.endswith("\n"):
        raise LedgerFormatError("note", "has no blank line followed by signature lines")
    text = _check_text(text + "\n")
    sig_lines = block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise LedgerFormatError("note", f"has more than {MAX_SIGNATURES} signatures")
    trusted = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Verifier] = []
    for line in sig_lines:
        name, sig = _parse_signature_line(line)
        key = trusted.get((name, sig[:4]))
        if key is None:
            continue
        if not key.verify(text.encode(), sig[4:]):
            raise LedgerSignatureError("note", f"the signature of trusted key {name} is invalid")
        verified.append(key)
    if not verified:
        raise LedgerSignatureError("note", "is not signed by any trusted key")
    return VerifiedNote(text, tuple(verified))


def _check_text(text: str) -> str:
    if not text.endswith("\n"):
        raise LedgerFormatError("note text", "must end with a newline")
    if any(c != "\n" and _is_control(c) for c in text):
        raise LedgerFormatError("note text", "contains a control character")
    return text


def _parse_signature_line(line: str) -> tuple[str, bytes]:
    if not line.startswith(SIG_PREFIX):
        raise LedgerFormatError("note signature line", f"{line!r} does not start with '— '")
    name, space, encoded = line[len(SIG_PREFIX) :].partition(" ")
    if not space or not name:
        raise LedgerFormatError("note signature line", f"{line!r} is not '— name signature'")
    sig = b64decode_strict(encoded, f"signature of {name}")
    if len(sig) < 5:
        raise LedgerFormatError(f"signature of {name}", "is shorter than a key id and signature")
    return name, sig


@dataclass(frozen=True)
class Checkpoint:
    """A C2SP tlog-checkpoint body: origin, tree size, root hash, optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body, ready to be signed as a note."""
        lines = [self.origin, str(self.size), _b64(self.root)]
        return "".join(f"{line}\n" for line in [*lines, *self.extensions])

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint body (the signed text of a note)."""
        lines = _check_text(text)[:-1].split("\n")
        if len(lines) < 3:
            raise LedgerFormatError("checkpoint", "needs origin, size and root lines")
        origin, size, root, *extensions = lines
        if not origin:
            raise LedgerFormatError("checkpoint origin", "is empty")
        if not re.fullmatch(r"0|[1-9][0-9]{0,19}", size):  # 2^64 has 20 digits
            raise LedgerFormatError("checkpoint size", f"{size!r} is not a decimal number")
        root_hash = b64decode_strict(root, "checkpoint root")
        if len(root_hash) != 32:
            raise LedgerFormatError("checkpoint root", "is not a 32-byte hash")
        if any(not line for line in extensions):
            raise LedgerFormatError("checkpoint", "has an empty extension line")
        return cls(origin, int(size), root_hash, tuple(extensions))


def open_checkpoint(note: str | bytes, verifiers: Iterable[Verifier]) -> Checkpoint:
    """Verify a checkpoint note; a trusted key named like the origin must have signed it."""
    opened = verify(note, verifiers)
    checkpoint = Checkpoint.parse(opened.text)
    if not any(v.name == checkpoint.origin for v in opened.verified_by):
        raise LedgerSignatureError(
            f"checkpoint of {checkpoint.origin}", "is not signed by a trusted key of that origin"
        )
    return checkpoint
