"""RFC 8785 JSON canonicalisation (JCS), and the errors of the ledger's formats.

Errors::

    LabctlError
    └── LedgerFormatError(what, why)   a record, proof, note or envelope is malformed or fails
        ├── LedgerSignatureError        no trusted signature, or a trusted key's signature is bad
        └── LedgerKeyError              a key file cannot be created, read or trusted
"""

from __future__ import annotations

from typing import Any

import rfc8785

from labctl.errors import LabctlError


class LedgerFormatError(LabctlError):
    """Something in the ledger's formats is wrong: `what` names it, `why` says how."""

    def __init__(self, what: str, why: str) -> None:
        self.what, self.why = what, why
        super().__init__(f"{what}: {why}")


class LedgerSignatureError(LedgerFormatError):
    """A signature is missing, comes from no trusted key, or does not verify."""


class LedgerKeyError(LedgerFormatError):
    """A signing key file cannot be created, read or trusted (`what` is the path)."""


def canonical(obj: Any, what: str = "JSON value") -> bytes:
    """Serialise `obj` as RFC 8785 canonical JSON (UTF-8 bytes).

    Floats outside the I-JSON range, integers beyond ±(2**53 - 1), non-string keys and other
    values JSON cannot hold raise `LedgerFormatError` naming `what`.
    """
    try:
        return rfc8785.dumps(obj)
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as err:
        raise LedgerFormatError(what, f"cannot be written as RFC 8785 JSON: {err}") from err
