"""The ``registers`` and ``blocks`` checks of a Modbus device, through the driver's bus.

Every register of the family's table is read alone (its own request), then the reads the
driver makes are read as the bus plans them (``ModbusDevice.plan``: coalesced under the
device's ``max_block_registers`` and ``max_fill_registers``). A planned block the unit refuses
is narrowed: re-planned with a smaller fill, down to no fill, until every part reads; the check
then fails and names the largest fill that works, for the site config.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence

from drivers._modbus.device import ModbusDevice
from drivers._modbus.plan import Block, plan_map_reads
from drivers._modbus.registers import Register
from drivers.errors import DriverError
from labctl.commission.checks import CheckList, Timings


def _where(reg: Register) -> str:
    return f"{reg.name} ({reg.table.value} {reg.address})"


async def read_each(
    device: ModbusDevice, skip: Iterable[str], checks: CheckList, timings: Timings
) -> dict[str, float]:
    """The ``registers`` check: every register but ``skip`` (write-only), one request each."""
    values: dict[str, float] = {}
    refused: list[str] = []
    skipped = set(skip)
    regs = [r for r in device.regmap if r.name not in skipped]
    for reg in regs:
        try:
            sample = await timings.timed(device.read((reg.name,)))
        except DriverError as err:
            refused.append(f"{_where(reg)}: {err}")
            continue
        values[reg.name] = sample.values[reg.name]
    note = f"; write-only, not read: {', '.join(sorted(skipped))}" if skipped else ""
    checks.add(
        "registers",
        not refused,
        (f"refused: {'; '.join(refused)}" if refused else f"all {len(regs)} read one at a time")
        + note,
        read=len(values),
        refused=len(refused),
    )
    return values


async def _reads(device: ModbusDevice, blocks: Sequence[Block]) -> str | None:
    """Read each block as planned; the first failure, or None."""
    for block in blocks:
        try:
            await device.read(r.name for r in block.registers)
        except DriverError as err:
            return f"{block.table.value} {block.address}+{block.count}: {err}"
    return None


async def narrowest_fill(device: ModbusDevice, block: Block) -> int | None:
    """The largest fill under which ``block``'s registers all read, or None (not even 0)."""
    regs = sorted(block.registers, key=lambda r: r.address)
    gaps = {b.address - a.end for a, b in itertools.pairwise(regs)}
    for fill in sorted({g - 1 for g in gaps if g > 0} | {0}, reverse=True):
        names = [r.name for r in regs]
        parts = plan_map_reads(device.regmap, names, max_block=device.max_block, max_fill=fill)
        if await _reads(device, parts) is None:
            return fill
    return None


async def read_blocks(
    device: ModbusDevice, reads: Mapping[str, Iterable[str] | None], checks: CheckList
) -> None:
    """The ``blocks`` check: each of the driver's ``reads`` (None: the poll) as planned."""
    blocks: dict[tuple[object, int, int], Block] = {}
    for names in reads.values():
        for block in device.plan(names):
            blocks.setdefault((block.table, block.address, block.count), block)
    failures: list[str] = []
    fills: list[int] = []
    for block in blocks.values():
        problem = await _reads(device, (block,))
        if problem is None:
            continue
        fill = await narrowest_fill(device, block)
        failures.append(
            problem
            + (
                "; no fill reads it either (see registers)"
                if fill is None
                else f"; reads with max_fill_registers = {fill}"
            )
        )
        if fill is not None:
            fills.append(fill)
    if failures:
        advice = (
            f" Set devices.{device.name}.max_fill_registers = {min(fills)} in the site file."
            if fills
            else ""
        )
        detail = f"refused: {'; '.join(failures)}.{advice}"
    else:
        detail = (
            f"{len(blocks)} planned blocks ({', '.join(reads)}) with fill up to "
            f"{device.max_fill} and blocks up to {device.max_block} words"
        )
    checks.add(
        "blocks",
        not failures,
        detail,
        blocks=len(blocks),
        refused=len(failures),
        max_fill=device.max_fill,
    )
