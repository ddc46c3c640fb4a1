"""``[ledger]`` in the site config: the signed traceability log of this lab."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from labctl.config.base import Strict


class LedgerSection(Strict):
    """Where the log lives and which keys sign it (the first key signs new records)."""

    origin: str = Field(pattern=r"^[A-Za-z0-9][^\s+]{0,200}$")  # e.g. castlab.example/ledger/v1
    key_files: list[Path] = Field(min_length=1, max_length=2)  # two during a key rotation
    # verifier keys retired by a rotation: still needed to audit older checkpoints, and
    # published with every certificate (the key history)
    retired_vkeys: list[str] = Field(default_factory=list, max_length=32)
    path: Path | None = None  # default: <state_dir>/ledger.sqlite
    archive_dir: Path | None = None  # default: <state_dir>/ledger-archive (telemetry of casts)
