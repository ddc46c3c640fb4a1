"""The module's comm safety settings, as the ADAM-4000 manual makes them: over DCON, not Modbus.

Appendix G of the *ADAM-4000 Series User's Manual* gives Modbus only read access to the comm
safety (40215 Comm Safety Enable, 40216 Comm Safety Flag: attribute R, pp.G-7, G-11), and lists
no register for its timeout or safe value. Those are set in DCON mode by ``$AAX0TTTTDD`` "Write
Safety Value" (chapter 7 pp.7-20/7-21, command table 4.22 p.108; modules 4055, 4056S, 4056SO,
4060, 4068, 4069): the outputs go to the safety value DD when the host has been silent for TTTT
x 100 ms. One edition writes TTTT as the time in 100 ms steps, another as that number in
hexadecimal (its section 7.1.10); DCON fields are hexadecimal, so both read the same here.
``$AAX1`` reads timeout and safety value back (p.7-22), ``$AAX2`` the safety flag (p.7-23).

labctl does not send these commands (it drives the module in Modbus mode): it names them, with
the site's numbers, for the person who sets the module up (:func:`how_to_configure`).
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import ConfigurationError
from drivers.iomodule.registers import COILS, SAFE

MAX_TIMEOUT_S = 0xFFFF / 10  # TTTT: four hexadecimal digits of 100 ms

#: DD for the site's wiring: one bit per output channel (a coil's address), set where the safe
#: value is on (vent open, everything else off: 0x04).
SAFE_VALUE = sum(1 << channel for channel, name in enumerate(COILS) if SAFE[name])


@dataclass(frozen=True, slots=True)
class CommSafety:
    """The settings ``$AAX0TTTTDD`` writes: a timeout and the outputs' safety value."""

    timeout_s: float  # 0: the watchdog never fires
    safe_value: int = SAFE_VALUE

    def __post_init__(self) -> None:
        if not 0 <= self.timeout_s <= MAX_TIMEOUT_S:
            raise ConfigurationError(
                f"comm safety timeout {self.timeout_s:g} s outside 0..{MAX_TIMEOUT_S:g} s"
            )
        if not 0 <= self.safe_value < 1 << len(COILS):
            raise ConfigurationError(f"safety value {self.safe_value:#x} outside the wired outputs")

    def command(self, address: int) -> str:
        """The DCON command for the module at ``address``, e.g. ``$01X000C804``."""
        return f"${address:02X}X0{round(self.timeout_s * 10):04X}{self.safe_value:02X}"


def how_to_configure(lease_s: float, address: int) -> str:
    """What to do so the module's comm safety holds the site's lease (for error messages)."""
    command = CommSafety(lease_s).command(address)
    return (
        f"configure comm safety in DCON mode or with Advantech's utility: $AAX0TTTTDD (ADAM-4000 "
        f"manual p.7-20) with timeout = io_lease_s {lease_s:g} s, safe value = vent open, all "
        f"else off ({command} at address {address:02X}); back in Modbus mode, run `labctl "
        f"commission`"
    )


__all__ = ["MAX_TIMEOUT_S", "SAFE_VALUE", "CommSafety", "how_to_configure"]
