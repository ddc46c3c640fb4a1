"""Fault injection into a simulated TPG 36x gauge and its serial link."""

from __future__ import annotations

import logging

from drivers._sim.backdoor import AsciiBackdoor
from drivers.tpg36x.protocol import GaugeStatus

log = logging.getLogger(__name__)

# When several sensor faults are on at once, the first in this order is reported.
_PRIORITY = (
    GaugeStatus.NO_SENSOR,
    GaugeStatus.IDENTIFICATION_ERROR,
    GaugeStatus.SENSOR_OFF,
    GaugeStatus.SENSOR_ERROR,
)


class Backdoor(AsciiBackdoor):
    """Sensor faults per channel, plus the link faults of :class:`AsciiBackdoor`."""

    def __init__(self) -> None:
        super().__init__()
        self._forced: set[tuple[int, GaugeStatus]] = set()

    def _force(self, channel: int, status: GaugeStatus, on: bool) -> None:
        log.warning("backdoor: gauge channel %d %s %s", channel, status.text, "on" if on else "off")
        if on:
            self._forced.add((channel, status))
        else:
            self._forced.discard((channel, status))

    def sensor_error(self, on: bool = True, *, channel: int = 1) -> None:
        """The gauge head reports a sensor error (status 3)."""
        self._force(channel, GaugeStatus.SENSOR_ERROR, on)

    def sensor_off(self, on: bool = True, *, channel: int = 1) -> None:
        """The channel is switched off (status 4)."""
        self._force(channel, GaugeStatus.SENSOR_OFF, on)

    def no_sensor(self, on: bool = True, *, channel: int = 1) -> None:
        """The gauge head is unplugged (status 5, TID ``noSen``)."""
        self._force(channel, GaugeStatus.NO_SENSOR, on)

    def identification_error(self, on: bool = True, *, channel: int = 1) -> None:
        """The controller cannot identify the head plugged into the channel (status 6)."""
        self._force(channel, GaugeStatus.IDENTIFICATION_ERROR, on)

    def forced_status(self, channel: int) -> GaugeStatus | None:
        """The sensor fault a channel reports instead of a measurement, if any."""
        return next((s for s in _PRIORITY if (channel, s) in self._forced), None)
