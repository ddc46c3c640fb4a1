"""Fault injection into a simulated caster I/O module and its link, for HIL tests and the rig."""

from __future__ import annotations

import logging
from typing import Protocol

from drivers._sim.links import Faults

log = logging.getLogger(__name__)


class _Rebootable(Protocol):
    def reboot(self) -> None: ...


class _Plant(_Rebootable, Protocol):
    lid_closed: bool
    flask_present: bool
    estop_ok: bool


class LinkBackdoor:
    """Link faults (``faults``, read live by the link) and a power cycle: every simulator's."""

    def __init__(self, device: _Rebootable) -> None:
        self._rebootable = device
        self.faults = Faults()

    def comms_loss(self, on: bool = True) -> None:
        """The cable is pulled: connections dropped, nothing answers."""
        self.faults.link_down = on

    def silent(self, on: bool = True) -> None:
        """The device stops answering but the link stays up."""
        self.faults.silent = on

    def slow_replies(self, delay_s: float) -> None:
        """Every reply is late by ``delay_s`` wall seconds (0 restores)."""
        self.faults.delay_s = delay_s

    def corrupt_crc(self, on: bool = True) -> None:
        """RTU replies arrive with a bad CRC."""
        self.faults.corrupt_crc = on

    def reboot(self) -> None:
        """Power-cycle the device: volatile state back to power-on values."""
        self._rebootable.reboot()


class Backdoor(LinkBackdoor):
    """What a test may break on the caster: its inputs, its pump, the module's link."""

    def __init__(self, device: _Plant) -> None:
        super().__init__(device)
        self._plant = device
        self.pump_failed = False

    def open_lid(self, on: bool = True) -> None:
        """The lid is opened (the lid-closed switch opens)."""
        log.warning("backdoor: lid %s", "open" if on else "closed")
        self._plant.lid_closed = not on

    def press_estop(self, on: bool = True) -> None:
        """The e-stop is pressed: the chain opens and the actuators lose power."""
        log.warning("backdoor: e-stop %s", "pressed" if on else "released")
        self._plant.estop_ok = not on

    def remove_flask(self, on: bool = True) -> None:
        """The flask is taken out (the flask-present switch opens)."""
        log.warning("backdoor: flask %s", "removed" if on else "in place")
        self._plant.flask_present = not on

    def fail_pump(self, on: bool = True) -> None:
        """The pump's contactor or motor fails: coil on, no aux contact, no pumping."""
        log.warning("backdoor: pump %s", "failed" if on else "restored")
        self.pump_failed = on
