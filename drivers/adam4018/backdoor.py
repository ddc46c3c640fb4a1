"""Fault injection into a simulated ADAM-4018 module and its RS-485 line."""

from __future__ import annotations

import logging

from drivers._sim.backdoor import AsciiBackdoor

log = logging.getLogger(__name__)


class Backdoor(AsciiBackdoor):
    """Open thermocouples per channel, plus the link faults of :class:`AsciiBackdoor`."""

    def __init__(self) -> None:
        super().__init__()
        self.open_channels: set[int] = set()

    def open_wire(self, channel: int, on: bool = True) -> None:
        """The thermocouple on ``channel`` breaks: the module reads +9999.9 there."""
        log.warning("backdoor: ADAM channel %d %s", channel, "open" if on else "restored")
        if on:
            self.open_channels.add(channel)
        else:
            self.open_channels.discard(channel)
