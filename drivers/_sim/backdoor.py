"""Fault injection into a simulated temperature controller, its heater and its link (HIL, rig)."""

from __future__ import annotations

import logging
from typing import Protocol

from drivers._sim.links import Faults

log = logging.getLogger(__name__)


class _Rebootable(Protocol):
    def reboot(self) -> None: ...


class Backdoor:
    """What a test may break. Link faults (``faults``) act on the wire, the rest on the kiln."""

    def __init__(self, device: _Rebootable) -> None:
        self._device = device
        self.faults = Faults()
        self.thermocouple_open = False
        self.relay_stuck = False
        self.heater_failed = False

    def open_thermocouple(self, on: bool = True) -> None:
        """The thermocouple wire breaks: sensor break, output to the sensor-break power."""
        log.warning("backdoor: thermocouple %s", "open" if on else "restored")
        self.thermocouple_open = on

    def stick_relay(self, on: bool = True) -> None:
        """The heater contactor welds shut: full power whatever the controller's output."""
        log.warning("backdoor: relay %s", "stuck on" if on else "released")
        self.relay_stuck = on

    def fail_heater(self, on: bool = True) -> None:
        """An element burns out: the output saturates and the kiln stalls."""
        log.warning("backdoor: heater %s", "failed" if on else "restored")
        self.heater_failed = on

    def comms_loss(self, on: bool = True) -> None:
        """The cable is pulled: connections dropped, nothing answers."""
        self.faults.link_down = on

    def silent(self, on: bool = True) -> None:
        """The instrument stops answering but the link stays up."""
        self.faults.silent = on

    def slow_replies(self, delay_s: float) -> None:
        """Every reply is late by ``delay_s`` wall seconds (0 restores)."""
        self.faults.delay_s = delay_s

    def corrupt_crc(self, on: bool = True) -> None:
        """RTU replies arrive with a bad CRC."""
        self.faults.corrupt_crc = on

    def reboot(self) -> None:
        """Power-cycle the instrument: volatile registers back to power-on values."""
        self._device.reboot()
