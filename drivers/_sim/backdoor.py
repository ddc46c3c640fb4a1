"""Fault injection into simulators and their links, for HIL tests and the rig.

:class:`LinkBackdoor` holds the link faults every simulator offers; :class:`ModbusBackdoor`
adds what a Modbus device's link and power supply can do, :class:`AsciiBackdoor` what an ASCII
serial line can do, and :class:`Backdoor` the faults of a temperature controller's heater and
thermocouple. Device families extend these with their own faults.
"""

from __future__ import annotations

import logging
from typing import Protocol

from drivers._sim.links import Faults

log = logging.getLogger(__name__)


class Rebootable(Protocol):
    def reboot(self) -> None: ...


class LinkBackdoor:
    """The link faults of every simulator: ``faults``, read live by its link."""

    def __init__(self) -> None:
        self.faults = Faults()

    def comms_loss(self, on: bool = True) -> None:
        """The cable is pulled: connections dropped, nothing answers."""
        log.warning("backdoor: comms %s", "lost" if on else "restored")
        self.faults.link_down = on

    def silent(self, on: bool = True) -> None:
        """The device stops answering but the link stays up."""
        self.faults.silent = on

    def slow_replies(self, delay_s: float) -> None:
        """Every reply is late by ``delay_s`` wall seconds (0 restores)."""
        self.faults.delay_s = delay_s


class AsciiBackdoor(LinkBackdoor):
    """The link faults of an ASCII serial device, plus line noise."""

    def garble(self, on: bool = True) -> None:
        """Every reply arrives corrupted (line noise)."""
        self.faults.garble = on


class ModbusBackdoor(LinkBackdoor):
    """The link faults of a Modbus device, plus a bad CRC and a power cycle."""

    def __init__(self, device: Rebootable) -> None:
        super().__init__()
        self._device = device

    def corrupt_crc(self, on: bool = True) -> None:
        """RTU replies arrive with a bad CRC."""
        self.faults.corrupt_crc = on

    def reboot(self) -> None:
        """Power-cycle the device: volatile state back to power-on values."""
        self._device.reboot()


class Backdoor(ModbusBackdoor):
    """What a test may break on a temperature controller: its link, the heater and the sensor."""

    def __init__(self, device: Rebootable) -> None:
        super().__init__(device)
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
