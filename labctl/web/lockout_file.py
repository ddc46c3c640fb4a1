"""The wrong-PIN records on disk: one small JSON file, read strictly, written atomically.

``{"version": 1, "floor_until": <wall time>, "records": {"badge:1001": [count, locked_until,
last]}}``. A write goes to a temporary file beside it, is fsynced, renamed over the old one
and the directory fsynced, so a crash leaves either the old file or the new one, never half.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from labctl.commands.bounded_json import InputRefused, loads_bounded

VERSION = 1
MAX_FILE_BYTES = 4 * 1024 * 1024  # far above MAX_RECORDS records


class LockoutFileError(Exception):
    """The file exists but cannot be read as wrong-PIN records."""


@dataclass
class Record:
    """Wrong PINs charged to one badge or address; times are wall-clock (they survive reboots)."""

    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


def read_records(path: Path) -> tuple[float, dict[str, Record]]:
    """(floor_until, records) from ``path``; (0, {}) when there is no file yet."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0.0, {}
    except OSError as err:
        raise LockoutFileError(f"{path}: {err.strerror or err}") from None
    try:
        parsed = loads_bounded(data, max_bytes=MAX_FILE_BYTES, max_depth=4)
    except InputRefused as err:
        raise LockoutFileError(f"{path}: {err.reason}") from None
    if not isinstance(parsed, dict) or parsed.get("version") != VERSION:
        raise LockoutFileError(f"{path}: not a version {VERSION} record file")
    floor, raw = parsed.get("floor_until"), parsed.get("records")
    if not _number(floor) or not isinstance(raw, dict):
        raise LockoutFileError(f"{path}: floor_until or records missing")
    records: dict[str, Record] = {}
    for key, value in raw.items():
        if not (
            key.startswith(("badge:", "address:"))
            and isinstance(value, list)
            and len(value) == 3
            and isinstance(value[0], int)
            and not isinstance(value[0], bool)
            and value[0] >= 0
            and all(_number(v) for v in value[1:])
        ):
            raise LockoutFileError(f"{path}: record {key!r} is not [count, locked_until, last]")
        records[key] = Record(value[0], float(value[1]), float(value[2]))
    assert isinstance(floor, int | float)
    return float(floor), records


def write_records(path: Path, floor_until: float, records: dict[str, Record]) -> None:
    """Replace ``path`` with these records atomically (blocking: run it off the loop)."""
    body = {
        "version": VERSION,
        "floor_until": floor_until,
        "records": {k: [r.count, r.locked_until, r.last] for k, r in records.items()},
    }
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, separators=(",", ":"))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
