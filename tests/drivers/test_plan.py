"""Read planning: fewest transactions under block-size and fill limits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers._modbus.codecs import FLOAT32, INT16
from drivers._modbus.plan import plan_map_reads, plan_reads
from drivers._modbus.registers import Poll, Register, RegisterMap, Table
from drivers.errors import ConfigurationError
from drivers.eurotherm3200.registers import MAP


def _regs(spans: list[tuple[int, int]], table: Table = Table.HOLDING) -> list[Register]:
    return [
        Register(name=f"{table.value}{a}", address=a, table=table, codec=(INT16, FLOAT32)[w - 1])
        for a, w in spans
    ]


@st.composite
def register_sets(draw: st.DrawFn, max_address: int = 400, max_size: int = 40) -> list[Register]:
    regs: list[Register] = []
    for table in (Table.HOLDING, Table.INPUT):
        addresses = sorted(draw(st.sets(st.integers(0, max_address), max_size=max_size)))
        spans: list[tuple[int, int]] = []
        for a in addresses:
            if spans and a < spans[-1][0] + spans[-1][1]:
                continue
            spans.append((a, draw(st.sampled_from([1, 2]))))
        regs += _regs(spans, table)
    return draw(st.permutations(regs))


def _fits(block: list[Register], max_block: int, max_fill: int) -> bool:
    return block[-1].end - block[0].address <= max_block and all(
        b.address - a.end <= max_fill for a, b in itertools.pairwise(block)
    )


def _optimum(regs: list[Register], max_block: int, max_fill: int) -> int:
    """Dynamic programming over each table's sorted registers: the true minimum."""
    total = 0
    for table in Table:
        rs = sorted((r for r in regs if r.table is table), key=lambda r: r.address)
        best = [0] + [10**9] * len(rs)
        for j in range(1, len(rs) + 1):
            for i in range(j):
                if _fits(rs[i:j], max_block, max_fill):
                    best[j] = min(best[j], best[i] + 1)
        total += best[-1]
    return total


def _brute_force(regs: list[Register], max_block: int, max_fill: int) -> int:
    """Every set partition into feasible blocks (tiny inputs): no contiguity assumed."""
    best = len(regs)

    def partitions(items: list[Register]) -> Iterator[list[list[Register]]]:
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for part in partitions(rest):
            yield [[first], *part]
            for k in range(len(part)):
                yield [*part[:k], [first, *part[k]], *part[k + 1 :]]

    for part in partitions(regs):
        blocks = [sorted(b, key=lambda r: r.address) for b in part]
        if all(len({r.table for r in b}) == 1 and _fits(b, max_block, max_fill) for b in blocks):
            best = min(best, len(blocks))
    return best


@given(register_sets(), st.integers(2, 125), st.integers(0, 60))
def test_plan_covers_once_within_limits_and_is_minimal(
    regs: list[Register], max_block: int, max_fill: int
) -> None:
    blocks = plan_reads(regs, max_block=max_block, max_fill=max_fill)
    covered = [r.name for b in blocks for r in b.registers]
    assert sorted(covered) == sorted(r.name for r in regs)  # every register exactly once
    for b in blocks:
        assert 1 <= b.count <= max_block
        assert all(r.table is b.table for r in b.registers)
        assert all(b.address <= r.address and r.end <= b.address + b.count for r in b.registers)
        ordered = sorted(b.registers, key=lambda r: r.address)
        assert all(y.address - x.end <= max_fill for x, y in itertools.pairwise(ordered))
        assert b.address == ordered[0].address and b.address + b.count == ordered[-1].end
    assert len(blocks) == _optimum(regs, max_block, max_fill)


@given(register_sets(max_address=20, max_size=3), st.integers(2, 8), st.integers(0, 4))
def test_plan_matches_brute_force_on_small_sets(
    regs: list[Register], max_block: int, max_fill: int
) -> None:
    blocks = plan_reads(regs, max_block=max_block, max_fill=max_fill)
    assert len(blocks) == _brute_force(regs, max_block, max_fill)


def test_fill_and_block_limits_are_inclusive() -> None:
    regs = _regs([(0, 1), (3, 1), (5, 2)])  # gaps of 2 and 1; span 7
    assert [(b.address, b.count) for b in plan_reads(regs, max_block=7, max_fill=2)] == [(0, 7)]
    assert [(b.address, b.count) for b in plan_reads(regs, max_block=6, max_fill=2)] == [
        (0, 4),
        (5, 2),
    ]
    assert [(b.address, b.count) for b in plan_reads(regs, max_block=7, max_fill=1)] == [
        (0, 1),
        (3, 4),
    ]


def test_tables_never_share_a_block_and_duplicates_are_read_once() -> None:
    holding, inputs = _regs([(10, 1)]), _regs([(11, 1)], Table.INPUT)
    blocks = plan_reads([*holding, *inputs, holding[0]], max_block=125, max_fill=8)
    assert [(b.table, b.address, b.count, len(b.registers)) for b in blocks] == [
        (Table.HOLDING, 10, 1, 1),
        (Table.INPUT, 11, 1, 1),
    ]
    assert plan_reads([], max_block=125, max_fill=8) == ()


def test_bad_limits_and_oversized_registers_are_refused() -> None:
    with pytest.raises(ConfigurationError):
        plan_reads(_regs([(0, 1)]), max_block=0, max_fill=0)
    with pytest.raises(ConfigurationError):
        plan_reads(_regs([(0, 1)]), max_block=10, max_fill=-1)
    with pytest.raises(ConfigurationError, match="wider"):
        plan_reads(_regs([(0, 2)]), max_block=1, max_fill=0)


def test_eurotherm_fast_poll_plans() -> None:
    fast = MAP.polled(Poll.FAST)
    per_field = len(fast)
    assert [(b.address, b.count) for b in plan_reads(fast, max_block=125, max_fill=50)] == [
        (1, 23),
        (75, 1),
        (258, 19),
        (330, 1),
    ]  # without the map: across 6-22 and 259-275, which a strict 3216 refuses
    assert len(plan_reads(fast, max_block=125, max_fill=0)) < per_field
    assert len(plan_reads(fast, max_block=125, max_fill=400)) == 2  # 1..330 > 125 words


@pytest.mark.parametrize("max_fill", [2, 8, 50, 400])
def test_eurotherm_poll_spans_only_what_ha028651_lists(max_fill: int) -> None:
    names = [r.name for r in MAP.polled(Poll.FAST)]
    blocks = plan_map_reads(MAP, names, max_block=125, max_fill=max_fill)
    # PV..WKG.SP (p.81) in one; T.STAT, StAt, Rm.SP select alone; the alab-only ones alone
    assert [(b.address, b.count) for b in blocks] == [
        (1, 5),
        (23, 1),
        (75, 1),
        (258, 1),
        (273, 1),
        (276, 1),
        (330, 1),
    ]


def test_a_block_spans_a_listed_gap_but_not_an_unlisted_one() -> None:
    regs = _regs([(10, 1), (12, 1), (20, 1)])
    listed = {10, 11, 12, 13, 20}
    blocks = plan_reads(regs, max_block=20, max_fill=20, documented=lambda t, a: a in listed)
    assert [(b.address, b.count) for b in blocks] == [(10, 3), (20, 1)]
    lone = [*regs, Register(name="third_party", address=11, documented=False)]
    documented = RegisterMap(lone).is_documented  # only the documented registers' own words
    blocks = plan_reads(lone, max_block=20, max_fill=20, documented=documented)
    assert [(b.address, b.count) for b in blocks] == [(10, 1), (11, 1), (12, 1), (20, 1)]


@given(register_sets(max_address=60, max_size=12), st.sets(st.integers(0, 62)))
def test_multi_register_blocks_are_wholly_documented(
    regs: list[Register], listed: set[int]
) -> None:
    blocks = plan_reads(regs, max_block=20, max_fill=6, documented=lambda t, a: a in listed)
    assert sorted(r.name for b in blocks for r in b.registers) == sorted(r.name for r in regs)
    for block in blocks:
        if len(block.registers) > 1:
            assert all(a in listed for a in range(block.address, block.address + block.count))


def test_block_decode_slices_each_register() -> None:
    regs = _regs([(10, 1), (12, 2)])
    (block,) = plan_reads(regs, max_block=10, max_fill=1)
    words = [7, 0, *FLOAT32.encode(1.5)]
    assert block.decode(words) == {"holding10": 7.0, "holding12": 1.5}
    bits = [Register(name=f"c{a}", address=a, table=Table.COIL) for a in (0, 2)]
    (coils,) = plan_reads(bits, max_block=10, max_fill=1)
    assert coils.decode([1, 0, 0]) == {"c0": 1.0, "c2": 0.0}
