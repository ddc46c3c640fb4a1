"""The line budget: what every device on one serial line needs each tick must fit the tick.

An RS-485 line carries one transaction at a time. Each tick, every machine reads its devices
(the drivers' poll plans) and a streamed setpoint is written and read back; on the wire each
transaction costs its request, the RTU silence t3.5, the device's turnaround, its answer and
another t3.5 (:mod:`drivers.wire_time`, Modbus over Serial Line V1.02 §2.5.1.1). ASCII lines
(TPG gauge, ADAM module) have no t3.5 but a turnaround per exchange.

Machines on one line tick independently, so in the worst case every device's transactions
queue together in front of the shortest tick: the sum must fit ``MARGIN`` of that tick. Half,
because the rest of the tick is needed for what the per-tick cycle does not count: writes at
state changes (arming a controller: five writes, each read back; the caster's coils: a read and
up to six writes, each read back; drive commands), a device slower than its nominal turnaround
(a Eurotherm block may take up to 500 ms), the USB-RS485 adapter's latency, and the host's own
time between transactions. A line that does not fit stops ``labctl run`` (``load_site``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers._modbus.plan import plan_map_reads
from drivers._modbus.registers import Poll
from drivers.adam4018 import protocol as dcon
from drivers.families import FAMILIES, modbus_table
from drivers.tpg36x import protocol as tpg
from drivers.wire_time import TURNAROUND, CharFormat, read_sizes, write_sizes
from labctl.config.buses import Adam4018Section, Tpg36xSection

if TYPE_CHECKING:
    from labctl.config.site import SiteConfig

MARGIN = 0.5  # share of the shortest tick the per-tick transactions may take
BAUD_RATES = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)

#: ``x,sx.xxxxEsxx`` + CR LF: a pressure line (TPG 261 manual BG 5195 BEN p. 71).
TPG_PRESSURE_LINE = len(b"0,+1.0000E+00") + len(tpg.EOL)
#: ``>+dddd.d`` + CR: one channel in engineering units (ADAM-4000 manual p. 5-15, ``#AAN``).
DCON_VALUE_REPLY = len(b">+0900.0") + len(dcon.CR)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its answer on the wire."""

    request: int  # bytes
    answer: int
    turnaround_s: float

    def wire_s(self, line: CharFormat, *, rtu: bool) -> float:
        gaps = 2 * line.rtu_silence_s if rtu else 0.0
        return line.send_s(self.request + self.answer) + gaps + self.turnaround_s


@dataclass(frozen=True, slots=True)
class Duty:
    """What one device needs each tick of the machine that uses it."""

    device: str
    machine: str  # "kilns.kiln1"
    tick_s: float
    what: str  # "4 reads + setpoint write"
    exchanges: tuple[Exchange, ...]

    def wire_s(self, line: CharFormat, *, rtu: bool) -> float:
        return sum(ex.wire_s(line, rtu=rtu) for ex in self.exchanges)


def modbus_exchanges(
    family: str, *, max_block: int, max_fill: int, streams: bool
) -> tuple[str, tuple[Exchange, ...]]:
    """The poll plan's reads, plus the streamed setpoint's write and read-back."""
    regmap, turn = modbus_table(family).map, TURNAROUND[family]
    fast = [r.name for r in regmap.polled(Poll.FAST)]
    blocks = plan_map_reads(regmap, fast, max_block=max_block, max_fill=max_fill)
    exchanges = [Exchange(*read_sizes(b.table, b.count), turn.of(b.count)) for b in blocks]
    what = f"{len(blocks)} read{'s' * (len(blocks) != 1)}"
    streamed = FAMILIES[family].streamed_register
    if streams and streamed is not None:
        reg = regmap[streamed]
        exchanges.append(Exchange(*write_sizes(reg.table, reg.words), turn.of(reg.words)))
        exchanges.append(Exchange(*read_sizes(reg.table, reg.words), turn.of(reg.words)))
        what += " + setpoint write"
    return what, tuple(exchanges)


def tpg_exchanges(channel: int) -> tuple[Exchange, ...]:
    """``PRx`` -> ACK line, ENQ -> pressure line (TPG 261 manual BG 5195 BEN pp. 67-71)."""
    turn = TURNAROUND["tpg36x"].single_s
    command = len(tpg.command(f"PR{channel}"))
    return (
        Exchange(command, len(tpg.ACK + tpg.EOL), turn),
        Exchange(len(tpg.ENQ), TPG_PRESSURE_LINE, turn),
    )


def dcon_exchanges(address: int, channel: int, *, checksum: bool) -> tuple[Exchange, ...]:
    """``#AAN`` and its value (with the optional 2-character checksum on both)."""
    request = dcon.frame(f"#{address:02X}{channel}", with_checksum=checksum)
    answer = DCON_VALUE_REPLY + (2 if checksum else 0)
    return (Exchange(len(request), answer, TURNAROUND["adam4018"].single_s),)


def _uses(site: SiteConfig) -> Iterator[tuple[str, str, float, bool]]:
    """(device, machine, tick_s, streams a setpoint) for every device a machine polls."""
    per_wall_s = 1.0 / site.lab.clock_speed  # ticks are clock seconds, the wire is wall time
    kiln_tick_s = site.lab.tick_s * per_wall_s
    for name, kiln in site.kilns.items():
        yield kiln.controller, f"kilns.{name}", kiln_tick_s, kiln.mode == "stream"
        if kiln.flask_tc is not None:
            yield kiln.flask_tc, f"kilns.{name}", kiln_tick_s, False
    for name, caster in site.casters.items():
        for role, device in caster.roles().items():
            yield device, f"casters.{name}", caster.tick_s * per_wall_s, role == "crucible"


def _duty(site: SiteConfig, device: str, machine: str, tick_s: float, streams: bool) -> Duty:
    dev = site.devices[device]
    if isinstance(dev, Tpg36xSection):
        return Duty(device, machine, tick_s, "pressure read", tpg_exchanges(dev.channel))
    if isinstance(dev, Adam4018Section):
        exchanges = dcon_exchanges(dev.address, dev.channel, checksum=dev.checksum)
        return Duty(device, machine, tick_s, "temperature read", exchanges)
    what, exchanges = modbus_exchanges(
        dev.family,
        max_block=dev.max_block_registers,
        max_fill=dev.max_fill_registers,
        streams=streams,
    )
    return Duty(device, machine, tick_s, what, exchanges)


@dataclass(frozen=True, slots=True)
class Line:
    """One serial line and the duties of the devices on it."""

    field: str  # "buses.rs485" or "lines.gauges"
    format: CharFormat
    rtu: bool
    duties: tuple[Duty, ...]

    def needed_s(self, line: CharFormat | None = None) -> float:
        return sum(d.wire_s(line or self.format, rtu=self.rtu) for d in self.duties)

    @property
    def tick_s(self) -> float:
        return min(d.tick_s for d in self.duties)

    @property
    def allowed_s(self) -> float:
        return MARGIN * self.tick_s


def serial_lines(site: SiteConfig) -> list[Line]:
    """Every RTU bus and ASCII line of the site with the duties of the devices polled on it."""
    duties: dict[str, list[Duty]] = {}
    for device, machine, tick_s, streams in _uses(site):
        dev = site.devices[device]
        if isinstance(dev, Tpg36xSection | Adam4018Section):
            where = f"lines.{dev.line}"
        else:
            where = f"buses.{dev.bus}"
        duties.setdefault(where, []).append(_duty(site, device, machine, tick_s, streams))
    lines: list[Line] = []
    for name, bus in site.buses.items():
        if bus.kind == "rtu" and f"buses.{name}" in duties:
            fmt = CharFormat(bus.baudrate, bus.parity, bus.stopbits)
            lines.append(Line(f"buses.{name}", fmt, True, tuple(duties[f"buses.{name}"])))
    for name, ser in site.lines.items():
        if f"lines.{name}" in duties:
            fmt = CharFormat(ser.baudrate, ser.parity, ser.stopbits)
            lines.append(Line(f"lines.{name}", fmt, False, tuple(duties[f"lines.{name}"])))
    return lines


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _faster(line: Line) -> str:
    """What a higher baud rate would give, in the message's words."""
    for baud in (b for b in BAUD_RATES if b > line.format.baudrate):
        fmt = CharFormat(baud, line.format.parity, line.format.stopbits)
        if line.needed_s(fmt) <= line.allowed_s:
            return f"at {baud} baud they need {_ms(line.needed_s(fmt))}"
    return f"even {BAUD_RATES[-1]} baud is not enough"


def over_budget(line: Line) -> str | None:
    """The problem, with the numbers and what to change, when the line's duties do not fit."""
    needed = line.needed_s()
    if needed <= line.allowed_s:
        return None
    shortest = min(line.duties, key=lambda d: d.tick_s)
    each = "; ".join(
        f"{d.device} ({d.machine}, {d.what}) {_ms(d.wire_s(line.format, rtu=line.rtu))} "
        f"every {_ms(d.tick_s)}"
        for d in line.duties
    )
    return (
        f"the devices on this line need {_ms(needed)} of wire time per tick at "
        f"{line.format.baudrate} baud, more than {MARGIN:.0%} of the shortest tick "
        f"({_ms(line.tick_s)}, {shortest.machine}) = {_ms(line.allowed_s)}: {each}. "
        f"Raise the baud rate ({_faster(line)}), lengthen the tick, or split the devices "
        "over more lines"
    )


def check_line_budget(site: SiteConfig) -> tuple[str, str] | None:
    """(field, problem) for the first serial line whose per-tick transactions do not fit.

    The wire runs in real time: an accelerated clock (``clock_speed`` > 1) is only for test
    rigs, whose simulated devices answer on ptys without a baud rate, so it is not checked.
    """
    if site.lab.clock_speed > 1:
        return None
    for line in serial_lines(site):
        problem = over_budget(line)
        if problem is not None:
            return line.field, problem
    return None
