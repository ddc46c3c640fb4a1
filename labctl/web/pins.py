"""Badge PINs hashed with scrypt (a memory-hard KDF), never stored in clear.

A stored hash reads ``scrypt$N$r$p$<salt base64>$<hash base64>``, so the cost can be raised
later without invalidating old hashes. Checking costs ~50 ms and 16 MiB on a Raspberry Pi 4
class machine, which is what makes guessing a 4-6 digit PIN slow; the sign-in rate limit
(:mod:`labctl.web.signin`) does the rest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

N, R, P = 2**14, 8, 1
_DKLEN = 32
_MAXMEM = 64 * 1024 * 1024


class PinFormatError(ValueError):
    """A stored PIN hash that cannot be read."""


def hash_pin(pin: str, *, n: int = N, r: int = R, p: int = P) -> str:
    """A new salted hash of ``pin`` in the stored format."""
    if not re.fullmatch(r"[0-9]{4,12}", pin):
        raise ValueError("a PIN is 4 to 12 digits")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=_DKLEN, maxmem=_MAXMEM)
    return "$".join(
        ("scrypt", str(n), str(r), str(p), _b64(salt), _b64(digest)),
    )


def verify_pin(pin: str, stored: str) -> bool:
    """Whether ``pin`` matches ``stored`` (constant-time comparison of the digests)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            raise ValueError(kind)
        expected = base64.b64decode(digest, validate=True)
        actual = hashlib.scrypt(
            pin.encode(),
            salt=base64.b64decode(salt, validate=True),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=_MAXMEM,
        )
    except ValueError as err:
        raise PinFormatError(f"unreadable PIN hash: {err}") from None
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
