"""Ed25519 signing-key files and the `Signer` that the note and DSSE code sign with.

A key file holds one unencrypted PKCS#8 PEM Ed25519 private key (what `openssl genpkey
-algorithm ed25519` writes), mode 0600. `generate` creates it atomically and never overwrites;
`load` refuses a file that group or others may read or write.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labctl.ledger import note
from labctl.ledger.jcs import LedgerKeyError

KEY_MODE = 0o600


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key with its signed-note key name (the log origin)."""

    name: str
    private_key: Ed25519PrivateKey

    def __post_init__(self) -> None:
        note.check_key_name(self.name)

    @property
    def public_key(self) -> bytes:
        """The raw 32-byte Ed25519 public key."""
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key id."""
        return note.key_id(self.name, self.public_key)

    @property
    def keyid(self) -> str:
        """The key id as hex: the DSSE `keyid` of this key's signatures."""
        return self.key_id.hex()

    @property
    def vkey(self) -> str:
        """The signed-note verifier key string to publish."""
        return note.vkey(self.name, self.public_key)

    def verifier(self) -> note.Verifier:
        return note.Verifier(self.name, self.key_id, self.public_key)

    def public_key_pem(self) -> str:
        """The public key as SubjectPublicKeyInfo PEM, for tools other than signed notes."""
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)


def generate(path: Path, name: str) -> Signer:
    """Create a new key file at `path` (mode 0600, atomic, never overwriting); return its signer.

    The key is written to a temporary file in the same directory, fsynced, then hard-linked to
    `path`, which fails if `path` exists (a rename would silently replace it).
    """
    signer = Signer(note.check_key_name(name), Ed25519PrivateKey.generate())
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    if path.exists():
        raise LedgerKeyError(str(path), "already exists; refusing to overwrite a signing key")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, KEY_MODE)
        try:
            os.fchmod(fd, KEY_MODE)
            os.write(fd, pem)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(tmp, path)
        _fsync_dir(path.parent)
    except FileExistsError as err:
        raise LedgerKeyError(
            str(path), "already exists; refusing to overwrite a signing key"
        ) from err
    except OSError as err:
        raise LedgerKeyError(str(path), f"cannot write the key file: {err.strerror}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return signer


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load(path: Path, name: str) -> Signer:
    """Read a key file written by `generate` (or openssl) and return its signer."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as err:
        raise LedgerKeyError(str(path), f"cannot open the key file: {err.strerror}") from err
    with os.fdopen(fd, "rb") as file:
        mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode)
        if mode & 0o077:
            raise LedgerKeyError(
                str(path),
                f"is accessible by group or others (mode {mode:04o}); run chmod 600 on it",
            )
        data = file.read()
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as err:
        raise LedgerKeyError(str(path), "is not an unencrypted PEM private key") from err
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerKeyError(str(path), "holds a key that is not Ed25519")
    return Signer(note.check_key_name(name), key)
