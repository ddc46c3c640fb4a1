"""Fault injection into a simulated Delta drive and its link, for HIL tests and the rig."""

from __future__ import annotations

import logging
from typing import Protocol

from drivers._sim.backdoor import ModbusBackdoor, Rebootable

log = logging.getLogger(__name__)


class _Drive(Rebootable, Protocol):
    def trip(self, code: int) -> None: ...


class Backdoor(ModbusBackdoor):
    """What a test may break: the drive (a trip) and its link."""

    def __init__(self, device: _Drive) -> None:
        super().__init__(device)
        self._drive = device

    def drive_fault(self, code: int) -> None:
        """The drive trips with ``code``: output off, the arm coasts, the code held until reset."""
        log.warning("backdoor: drive fault %d", code)
        self._drive.trip(code)
