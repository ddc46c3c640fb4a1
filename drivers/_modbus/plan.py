"""Read planning: the fewest transactions that cover a set of registers.

Telegraf's ``max_insert`` optimisation: per table, registers sorted by address are merged
into one read while the unused addresses between neighbours (the fill) stay within
``max_fill`` and the whole block within ``max_block`` words. A register never spans two
blocks. Given a map, a block may span only addresses the map marks documented (the manual
lists them): an instrument may refuse a block that touches anything else (exception 02), so a
register the manual does not list, or one beyond an unlisted gap, is read by itself.

Going left to right and closing a block only when the next register cannot join is optimal:
whether a run of consecutive registers fits in one block is monotone (every sub-run of a
feasible run is feasible), so extending the current block as far as possible never forces an
extra block later (the usual exchange argument for interval covering).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from drivers._modbus.registers import Register, RegisterMap, Table
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


Documented = Callable[[Table, int], bool]


def plan_reads(
    registers: Sequence[Register],
    *,
    max_block: int,
    max_fill: int,
    documented: Documented | None = None,
) -> tuple[Block, ...]:
    """Cover ``registers`` with the fewest blocks under the size and fill limits.

    With ``documented`` (e.g. :meth:`RegisterMap.is_documented`), a block of more than one
    register spans documented addresses only. Blocks come out grouped by table (in
    :class:`Table` order), then by address. A register listed twice is read once.
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
                fits = reg.address - end <= max_fill and reg.end - start <= max_block
                if fits and (
                    documented is None or all(documented(table, a) for a in range(start, reg.end))
                ):
                    current.append(reg)
                    continue
                blocks.append(_block(table, current))
            current = [reg]
        if current:
            blocks.append(_block(table, current))
    return tuple(blocks)


def plan_map_reads(
    regmap: RegisterMap, names: Iterable[str], *, max_block: int, max_fill: int
) -> tuple[Block, ...]:
    """The blocks the bus reads for registers ``names`` of ``regmap``: documented spans only.

    This is the plan :meth:`~drivers._modbus.device.ModbusDevice.plan` uses; a commissioning
    check reads these blocks to prove a unit answers every one of them.
    """
    return plan_reads(
        [regmap[n] for n in names],
        max_block=max_block,
        max_fill=max_fill,
        documented=regmap.is_documented,
    )


def _block(table: Table, regs: list[Register]) -> Block:
    start = regs[0].address
    return Block(table, start, max(r.end for r in regs) - start, tuple(regs))
