"""Read planning: fewest transactions under block-size and fill limits."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from drivers._modbus.codecs import FLOAT32, INT16
from drivers._modbus.plan import plan_reads
from drivers._modbus.registers import Poll, Register
from drivers.eurotherm3200.registers import MAP


def _regs(spans: list[tuple[int, int]]) -> list[Register]:
    return [Register(name=f"r{a}", address=a, codec=FLOAT32 if w == 2 else INT16) for a, w in spans]


@st.composite
def register_sets(draw: st.DrawFn) -> list[Register]:
    addresses = sorted(draw(st.sets(st.integers(0, 400), min_size=1, max_size=40)))
    spans: list[tuple[int, int]] = []
    for a in addresses:
        if spans and a < spans[-1][0] + spans[-1][1]:
            continue
        spans.append((a, draw(st.sampled_from([1, 2]))))
    return _regs(spans)


def _optimum(regs: list[Register], max_block: int, max_fill: int) -> int:
    """Dynamic programming over sorted registers: the true minimum number of blocks."""
    regs = sorted(regs, key=lambda r: r.address)
    best = [0] + [10**9] * len(regs)
    for j in range(1, len(regs) + 1):
        for i in range(j):  # block = regs[i:j]
            block = regs[i:j]
            ok = block[-1].end - block[0].address <= max_block and all(
                b.address - a.end <= max_fill for a, b in itertools.pairwise(block)
            )
            if ok:
                best[j] = min(best[j], best[i] + 1)
    return best[-1]


@given(register_sets(), st.integers(2, 125), st.integers(0, 60))
def test_plan_covers_once_within_limits_and_is_minimal(
    regs: list[Register], max_block: int, max_fill: int
) -> None:
    blocks = plan_reads(regs, max_block=max_block, max_fill=max_fill)
    covered = [r.name for b in blocks for r in b.registers]
    assert sorted(covered) == sorted(r.name for r in regs)
    for b in blocks:
        assert b.count <= max_block
        ordered = sorted(b.registers, key=lambda r: r.address)
        assert all(y.address - x.end <= max_fill for x, y in itertools.pairwise(ordered))
        assert b.address == ordered[0].address and b.address + b.count == ordered[-1].end
    assert len(blocks) == _optimum(regs, max_block, max_fill)


def test_eurotherm_fast_poll_plans() -> None:
    fast = MAP.polled(Poll.FAST)
    per_field = len(fast)
    assert [(b.address, b.count) for b in plan_reads(fast, max_block=125, max_fill=50)] == [
        (1, 23),
        (75, 1),
        (258, 19),
        (330, 1),
    ]
    assert len(plan_reads(fast, max_block=125, max_fill=0)) < per_field
    assert len(plan_reads(fast, max_block=125, max_fill=400)) == 2  # 1..330 > 125 words


def test_block_decode_slices_each_register() -> None:
    regs = _regs([(10, 1), (12, 2)])
    (block,) = plan_reads(regs, max_block=10, max_fill=1)
    words = [7, 0, *FLOAT32.encode(1.5)]
    assert block.decode(words) == {"r10": 7.0, "r12": 1.5}
