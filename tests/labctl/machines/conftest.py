"""Fixtures of the machine tests."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


@pytest.fixture
def lab_dir(tmp_path: Path) -> Iterator[Path]:
    """A directory for a lab's run store and ledger: in memory where the OS offers it.

    Both stores commit with ``synchronous=FULL``; on a disk every commit waits for an fsync,
    which makes the hundreds of labs the matrix builds slow for nothing it tests.
    """
    if not SHM.is_dir():
        yield tmp_path
        return
    path = Path(tempfile.mkdtemp(prefix="labctl-machines-", dir=SHM))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
