"""Fault injection into a simulated caster I/O module and its link, for HIL tests and the rig."""

from __future__ import annotations

import logging
from typing import Protocol

from drivers._sim.backdoor import ModbusBackdoor, Rebootable

log = logging.getLogger(__name__)


class _Plant(Rebootable, Protocol):
    lid_closed: bool
    flask_present: bool
    estop_ok: bool


class Backdoor(ModbusBackdoor):
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
