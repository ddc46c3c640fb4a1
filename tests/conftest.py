"""Fixtures shared across the unit and fuzz tests."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path

import pytest

from labctl.ledger import keys
from labctl.ledger.records import Document, JobTicket
from labctl.ledger.service import LedgerService

#: A valid site file: one Modbus TCP bus ``a``, a Eurotherm ``tc1`` on it, a kiln ``k1``.
MINIMAL_SITE = """
[lab]
name = "t"
[buses.a]
kind = "tcp"
host = "127.0.0.1"
port = 5020
[devices.tc1]
family = "eurotherm3200"
bus = "a"
[kilns.k1]
controller = "tc1"
max_temp_c = 800
"""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--device``: the bench device ``pytest -m device`` commissions (tests/device)."""
    group = parser.getgroup("device", "a real device on the bench (pytest -m device)")
    group.addoption(
        "--device",
        default=None,
        metavar="FAMILY:PORT[:UNIT]",
        help="commission this device: PORT is /dev/... or HOST:TCPPORT; UNIT the Modbus unit, "
        "ADAM address or TPG channel",
    )
    group.addoption("--device-baudrate", default=19200, type=int, help="serial baud rate")
    group.addoption("--device-parity", default="N", choices=["N", "E", "O"], help="parity")
    group.addoption(
        "--device-lease-s",
        default=60.0,
        type=float,
        help="seconds a Eurotherm's remote SP is left unrefreshed to see it fall back",
    )


#: ``(out, origin, tickets, subject) -> out/cert``: see :func:`_export_certificate`.
ExportCertificate = Callable[[Path, str, int, int], Coroutine[None, None, Path]]


def _job(i: int) -> JobTicket:
    return JobTicket(
        job_id=f"J{i}",
        customer_order="O-17",
        piece_ids=[f"P{i}a", f"P{i}b"],
        cad_file=Document(name=f"ring{i}.stl", sha256=f"{i:064x}"),
        alloy="gold-18k-yellow",
        piece_class="medium",
    )


async def _export_certificate(out: Path, origin: str, tickets: int, subject: int) -> Path:
    """Record job tickets ``J0`` .. ``J{tickets-1}`` (pieces ``P{i}a``, ``P{i}b``) in a new
    ledger under ``out`` signed for ``origin``, and export the certificate of ``J{subject}``."""
    keys.generate(out / "log.key", origin)
    service = await LedgerService.open(
        out / "ledger.sqlite", origin=origin, key_files=[out / "log.key"]
    )
    try:
        for i in range(tickets):
            acked = await service.record(_job(i))
            assert acked.index == i
        entry = await service.find("job-ticket", f"J{subject}")
        assert entry is not None
        await service.export(entry, out / "cert", b"%PDF-1.4 a rendering\n")
    finally:
        await service.close()
    return out / "cert"


@pytest.fixture(scope="session")
def export_certificate() -> ExportCertificate:
    """Make a cast certificate to verify (or break): ``await export_certificate(...)``."""
    return _export_certificate


@pytest.fixture
def minimal_site() -> str:
    """The text of a small valid site file (:data:`MINIMAL_SITE`), to edit or extend."""
    return MINIMAL_SITE
