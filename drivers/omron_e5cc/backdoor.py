"""Fault injection into a simulated E5CC, its crucible and its link, for HIL tests and the rig.

The family-neutral faults (thermocouple, relay, heater, reboot, link faults) come from
:mod:`drivers._sim.backdoor`; only the E5CC's own A/D converter error (status bit 2,
H175 §5-2 Status) is added here.
"""

from __future__ import annotations

import logging

from drivers._sim.backdoor import Backdoor as _SharedBackdoor

log = logging.getLogger(__name__)


class Backdoor(_SharedBackdoor):
    """The shared faults plus the E5CC's ``ad_converter_error``.

    Shared: ``open_thermocouple``, ``stick_relay``, ``fail_heater``, ``reboot``, and the link
    faults ``comms_loss``, ``silent``, ``slow_replies``, ``corrupt_crc``.
    """

    ad_error = False

    def ad_converter_error(self, on: bool = True) -> None:
        """The input circuit fails: status bit 2, no valid PV, output to the error MV (0 %)."""
        log.warning("backdoor: A/D converter %s", "failed" if on else "restored")
        self.ad_error = on
