"""Read planning: the fewest transactions that cover a set of registers.

Telegraf's ``max_insert`` optimisation: per table, registers sorted by address are merged
into one read while the unused addresses between neighbours (the fill) stay within
``max_fill`` and the whole block within ``max_block`` words. A register never spans two
blocks.

Going left to right and closing a block only when the next register cannot join is optimal:
whether a run of consecutive registers fits in one block is monotone (every sub-run of a
feasible run is feasible), so extending the current block as far as possible never forces an
extra block later (the usual exchange argument for interval covering).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from drivers._modbus.registers import Register, Table
from drivers.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Block:
    """One read transaction: ``count`` words (or bits) from ``address`` in ``table``."""

    table: Table
    address: int
    count: int
    registers: tuple[Register, ...]

    def decode(self, words: Sequence[int]) -> dict[str, float]:
        """Engineering values of every register in the block from the ``count`` words read."""
        return {
            reg.name: reg.decode(words[reg.address - self.address : reg.end - self.address])
            for reg in self.registers
        }


def plan_reads(
    registers: Sequence[Register], *, max_block: int, max_fill: int
) -> tuple[Block, ...]:
    """Cover ``registers`` with the fewest blocks under the size and fill limits.

    Blocks come out grouped by table (in :class:`Table` order), then by address. A register
    listed twice is read once.
    """
    if max_block < 1 or max_fill < 0:
        raise ConfigurationError(f"bad limits: max_block={max_block}, max_fill={max_fill}")
    unique = tuple(dict.fromkeys(registers))
    blocks: list[Block] = []
    for table in Table:
        current: list[Register] = []
        for reg in sorted((r for r in unique if r.table is table), key=lambda r: r.address):
            if reg.words > max_block:
                raise ConfigurationError(f"{reg.name} is wider than a {max_block}-word read")
            if current:
                start, end = current[0].address, max(r.end for r in current)
                if reg.address - end <= max_fill and reg.end - start <= max_block:
                    current.append(reg)
                    continue
                blocks.append(_block(table, current))
            current = [reg]
        if current:
            blocks.append(_block(table, current))
    return tuple(blocks)


def _block(table: Table, regs: list[Register]) -> Block:
    start = regs[0].address
    return Block(table, start, max(r.end for r in regs) - start, tuple(regs))
