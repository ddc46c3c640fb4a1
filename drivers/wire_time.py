"""Time on a serial wire: character times, RTU silences, frame sizes and device turnarounds.

The arithmetic shared by the line budget the daemon checks at start (``labctl.config.line_budget``)
and the paced simulator line (:mod:`drivers._sim.paced_line`), so what labctl plans for and
what the test wire imposes are the same numbers.

Sources:

* Modbus over Serial Line Specification and Implementation Guide V1.02 (modbus.org, 2006),
  §2.5.1: an RTU character is 1 start bit, 8 data bits, a parity bit (or, without parity, a
  second stop bit) and 1 stop bit; many devices run 8N1 (10 bits), so the bits are counted from
  the configured format. §2.5.1.1 (p. 13): frames are separated by a silence of at least 3.5
  character times (t3.5); "for baud rates greater than 19200 Bps, fixed values for the 2 timers
  should be used", t3.5 = 1.750 ms. An RTU frame is address + PDU + CRC (3 bytes around the PDU).
* Modbus Application Protocol Specification V1.1b3 §6.1-6.4 (read coils, discrete inputs,
  holding and input registers: request PDU 5 bytes, response 2 + data), §6.5-6.6 (write single
  coil / register: request and echo 5 bytes), §6.11-6.12 (write multiple coils / registers:
  request 6 + data, response 5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from drivers._modbus.registers import Table

FIXED_ABOVE_BAUD = 19200  # serial line spec V1.02 §2.5.1.1
FIXED_T35_S = 0.00175
RTU_FRAMING = 3  # address byte + CRC-16 around the PDU (V1.02 §2.5.1.1)


@dataclass(frozen=True, slots=True)
class CharFormat:
    """A serial line's character format and speed."""

    baudrate: int
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    @property
    def bits(self) -> int:
        """Bits per character: start + data + parity (if any) + stop (8N1: 10, 8E1: 11)."""
        return 1 + self.bytesize + (self.parity != "N") + self.stopbits

    @property
    def char_s(self) -> float:
        return self.bits / self.baudrate

    def send_s(self, nbytes: int) -> float:
        """Seconds ``nbytes`` occupy the wire."""
        return nbytes * self.char_s

    @property
    def rtu_silence_s(self) -> float:
        """t3.5: 3.5 characters up to 19200 baud, a fixed 1.750 ms above (V1.02 §2.5.1.1)."""
        return FIXED_T35_S if self.baudrate > FIXED_ABOVE_BAUD else 3.5 * self.char_s


def _data_bytes(table: Table, count: int) -> int:
    return (count + 7) // 8 if table.is_bits else 2 * count


def read_sizes(table: Table, count: int) -> tuple[int, int]:
    """RTU bytes of a read of ``count`` bits or words (FC1-FC4): request, answer."""
    return RTU_FRAMING + 5, RTU_FRAMING + 2 + _data_bytes(table, count)


def write_sizes(table: Table, count: int) -> tuple[int, int]:
    """RTU bytes of a write (FC5/FC6 for one item, FC15/FC16 for more): request, answer."""
    if count == 1:
        return RTU_FRAMING + 5, RTU_FRAMING + 5
    return RTU_FRAMING + 6 + _data_bytes(table, count), RTU_FRAMING + 5


@dataclass(frozen=True, slots=True)
class Turnaround:
    """From the end of a request to the first byte of the answer, as a family's manual has it.

    ``single_s`` for one word or bit, ``block_s`` for a request of several; ``source`` names the
    manual, or says the figure is an assumption (``labctl commission`` measures the real one).
    """

    single_s: float
    block_s: float
    source: str

    def of(self, count: int) -> float:
        return self.single_s if count <= 1 else self.block_s


_EUROTHERM = (
    "Eurotherm 2000 Series Communications Handbook HA026230 issue 3, §3.22 Latency (p. 31): "
    "2-10 ms for one word, 2-500 ms for blocks (2400); the 3200 handbook HA028651 states none, "
    "so the 2000-series upper single-word bound is assumed, and 50 ms for a block"
)
_OMRON = (
    "Omron E5CN Communications Manual H158 §1.1: send data wait time 0-99 ms, default 20 ms; "
    "assumed the same on the E5CC (H175)"
)
_ASSUMED = "assumption: the manual states no response time"

#: Turnaround of each device family (``family`` names of the site config).
TURNAROUND: dict[str, Turnaround] = {
    "eurotherm3200": Turnaround(0.010, 0.050, _EUROTHERM),
    "omron_e5cc": Turnaround(0.020, 0.020, _OMRON),
    "iomodule": Turnaround(0.010, 0.010, _ASSUMED),
    "delta_vfd": Turnaround(0.010, 0.010, f"{_ASSUMED} (Pr.09-07 response delay adds to it)"),
    "tpg36x": Turnaround(0.010, 0.010, _ASSUMED),
    "adam4018": Turnaround(0.010, 0.010, _ASSUMED),
}
