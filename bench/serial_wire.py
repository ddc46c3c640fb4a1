"""Serial benchmarks on the paced line: what a poll costs on a real wire, and what fits a tick.

(c) one Eurotherm 3216 polled over Modbus RTU through :mod:`drivers._sim.paced_line` (bytes at
the baud rate, t3.5 silences, the 3216's turnaround), next to the wire-time ceiling the line
budget computes for the same plan (:mod:`labctl.config.line_budget`); and how many stream-mode kilns
one RS-485 line carries at the default tick, from the measured kiln cycle (poll + setpoint
write and read-back). (f) TPG 36x and ADAM-4018 round trips on a paced 9600 8N1 ASCII line.

Each figure is printed by :func:`bench.run.row` next to a baseline of the same run.
``.venv/bin/python -m bench.serial_wire [--quick]`` runs these rows alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from drivers._modbus.device import ModbusDevice
from drivers._serial.line import SerialLine, SerialSettings
from drivers._sim.paced_line import PacedPty
from drivers.adam4018.driver import Adam4018
from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import real_clock
from drivers.eurotherm3200 import Eurotherm3200
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from drivers.tpg36x.driver import Tpg36x
from drivers.tpg36x.sim import Tpg36xSim
from drivers.wire_time import TURNAROUND, CharFormat
from hil_tests.support.paced import FILL, paced_3216, rtu_3216
from labctl.config.line_budget import (
    MARGIN,
    Exchange,
    dcon_exchanges,
    modbus_exchanges,
    tpg_exchanges,
)
from labctl.config.site import LabSection

Row = Callable[[str, str, str, str], None]
ASCII_BAUD = 9600


def _wire_s(exchanges: tuple[Exchange, ...], line: CharFormat, *, rtu: bool) -> float:
    return sum(ex.wire_s(line, rtu=rtu) for ex in exchanges)


def _turnaround_s(exchanges: tuple[Exchange, ...]) -> float:
    return sum(ex.turnaround_s for ex in exchanges)


@contextlib.asynccontextmanager
async def _paced_3216(baud: int) -> AsyncIterator[ModbusDevice]:
    """A simulated 3216 at unit 1 on a paced RTU line, and the bus's handle for it."""
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            paced_3216(Path(tmp) / "tty", baud, sim=Eurotherm3200Sim()) as link,
            rtu_3216(link, baud, wire_timeout_s=1.0) as dev,
        ):
            yield dev


async def _per_call_s(call: Callable[[], Awaitable[object]], cycles: int) -> float:
    await call()  # the port is open and the device answers
    t0 = time.monotonic()
    for _ in range(cycles):
        await call()
    return (time.monotonic() - t0) / cycles


async def bench_rtu_poll(row: Row, cycles: int, baud: int) -> None:
    """(c) one poll of a 3216 on the paced line vs the budget's wire time for its plan."""
    async with _paced_3216(baud) as dev:
        per_poll = await _per_call_s(dev.read, cycles)
        blocks = len(dev.plan())
    _, exchanges = modbus_exchanges("eurotherm3200", max_block=125, max_fill=FILL, streams=False)
    assert len(exchanges) == blocks, "the budget plans other reads than the bus"
    ceiling = _wire_s(exchanges, CharFormat(baud), rtu=True)
    row(
        f"(c) RTU poll of one 3216 ({blocks} reads), paced line at {baud} 8N1",
        f"{per_poll * 1000:.1f} ms per poll",
        f"{ceiling * 1000:.1f} ms wire ceiling ({_turnaround_s(exchanges) * 1000:.0f} ms of it "
        "device turnaround)",
        f"{ceiling / per_poll:.2f} of the ceiling (target >= 0.9)",
    )


async def bench_kilns_per_line(row: Row, cycles: int, bauds: tuple[int, ...]) -> None:
    """Stream-mode kilns one line carries at the default tick, from the measured kiln cycle."""
    tick_s = LabSection.model_fields["tick_s"].default
    measured, modelled = [], []
    for baud in bauds:
        async with _paced_3216(baud) as dev:
            kiln = Eurotherm3200(dev)

            async def cycle(kiln: Eurotherm3200 = kiln) -> None:
                await kiln.read()
                await kiln.stream_setpoint(500.0)

            measured.append(await _per_call_s(cycle, cycles))
        _, exchanges = modbus_exchanges("eurotherm3200", max_block=125, max_fill=FILL, streams=True)
        modelled.append(_wire_s(exchanges, CharFormat(baud), rtu=True))

    def kilns(cycle_s: list[float]) -> str:
        return " / ".join(str(int(MARGIN * tick_s // s)) for s in cycle_s)

    def ms(cycle_s: list[float]) -> str:
        return " / ".join(f"{s * 1000:.0f}" for s in cycle_s)

    rates = "/".join(str(b) for b in bauds)
    row(
        f"(c) kilns per RS-485 line at {rates} baud ({tick_s:g} s tick, stream mode)",
        f"{kilns(measured)} kilns (measured cycle {ms(measured)} ms)",
        f"{kilns(modelled)} kilns (line budget's cycle {ms(modelled)} ms)",
        f"{MARGIN:.0%} of the tick per line, as the daemon's line budget allows",
    )


@contextlib.asynccontextmanager
async def _paced_ascii(
    serving: Callable[[Path], contextlib.AbstractAsyncContextManager[Path]], family: str
) -> AsyncIterator[SerialLine]:
    """A simulator's ASCII pty behind a paced 9600 8N1 line, and the host's serial line."""
    turnaround = TURNAROUND[family].single_s
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            serving(Path(tmp) / "raw") as raw,
            PacedPty(
                raw,
                CharFormat(ASCII_BAUD),
                turnaround=lambda _: turnaround,
                rtu=False,
                link_path=Path(tmp) / "tty",
            ),
        ):
            line = SerialLine(SerialSettings(port=str(Path(tmp) / "tty"), baudrate=ASCII_BAUD))
            try:
                yield line
            finally:
                await line.close()


def _round_trip_row(
    row: Row, name: str, per_read_s: float, exchanges: tuple[Exchange, ...]
) -> None:
    ceiling = _wire_s(exchanges, CharFormat(ASCII_BAUD), rtu=False)
    nbytes = sum(ex.request + ex.answer for ex in exchanges)
    row(
        f"(f) {name} round trips, paced line at {ASCII_BAUD} 8N1",
        f"{1 / per_read_s:.1f} reads/s",
        f"{1 / ceiling:.1f} reads/s wire ceiling ({nbytes} B + "
        f"{_turnaround_s(exchanges) * 1000:.0f} ms turnaround)",
        f"{ceiling / per_read_s:.2f} of the ceiling",
    )


async def bench_gauge_round_trips(row: Row, reads: int) -> None:
    """(f) TPG 36x: PR1 / ACK / ENQ / pressure line."""
    sim, clock = Tpg36xSim(lambda: 100.0), real_clock()
    async with _paced_ascii(lambda p: sim.serving(clock=clock, pty_link=p), "tpg36x") as line:
        per_read = await _per_call_s(Tpg36x(line, clock=clock).read, reads)
    _round_trip_row(row, "TPG 36x gauge PR1", per_read, tpg_exchanges(1))


async def bench_tc_round_trips(row: Row, reads: int) -> None:
    """(f) ADAM-4018: ``#010`` and its value."""
    sim, clock = Adam4018Sim(lambda: [900.0]), real_clock()
    async with _paced_ascii(lambda p: sim.serving(clock=clock, pty_link=p), "adam4018") as line:
        adam = Adam4018(line, address=1, channel=0, checksum=False, clock=clock)
        per_read = await _per_call_s(adam.read, reads)
    _round_trip_row(row, "ADAM-4018 TC #010", per_read, dcon_exchanges(1, 0, checksum=False))


async def bench_serial_wire(row: Row, quick: bool) -> None:
    """Every row of this module."""
    for baud in (9600, 19200):
        await bench_rtu_poll(row, cycles=10 if quick else 40, baud=baud)
    await bench_kilns_per_line(row, cycles=5 if quick else 20, bauds=(9600, 19200, 115200))
    await bench_gauge_round_trips(row, reads=40 if quick else 150)
    await bench_tc_round_trips(row, reads=40 if quick else 150)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    logging.basicConfig(level=logging.ERROR)

    def show(name: str, value: str, baseline: str, ratio: str) -> None:
        print(f"| {name} | {value} | {baseline} | {ratio} |", flush=True)

    asyncio.run(bench_serial_wire(show, parser.parse_args().quick))
