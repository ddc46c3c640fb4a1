"""Read planning: the fewest transactions that cover a set of registers.

Telegraf's ``max_insert`` optimisation: per table, registers sorted by address are merged
into one read while the unused words between them (the fill) stay within ``max_fill`` and the
block within ``max_block`` words. Going left to right and closing a block only when the next
register cannot join is optimal for this problem: any plan must start a new block at the
first register that cannot reach back to an open block's start, and greedy opens it as late
as possible.
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
        """Engineering values of every register in the block from the words read."""
        return {
            reg.name: reg.decode(words[reg.address - self.address : reg.end - self.address])
            for reg in self.registers
        }


def plan_reads(
    registers: Sequence[Register], *, max_block: int, max_fill: int
) -> tuple[Block, ...]:
    """Cover ``registers`` with the fewest blocks under the size and fill limits."""
    if max_block < 1 or max_fill < 0:
        raise ConfigurationError("max_block must be >= 1 and max_fill >= 0")
    blocks: list[Block] = []
    for table in Table:
        regs = sorted((r for r in registers if r.table is table), key=lambda r: r.address)
        current: list[Register] = []
        for reg in regs:
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
