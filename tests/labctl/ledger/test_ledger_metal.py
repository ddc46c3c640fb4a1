"""Exact metal arithmetic: melts, recycled content, metal balance (integers, odd lots)."""

import re
from datetime import UTC, datetime
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from labctl.ledger.metal import Balance, Melt, QaBalance, ceil_ppt, floor_ppm, ppm_pct
from labctl.ledger.records import MAX_MASS_MG, LotReceipt, Supplier

CLASSES = ("mined", "recycled", "grandfathered")


def lot(lot_id: str, mass_mg: int, fineness_ppt: int, coc_class: str = "recycled") -> LotReceipt:
    return LotReceipt.model_validate(
        {
            "lot_id": lot_id,
            "received_at": datetime(2025, 3, 1, 9, 30, tzinfo=UTC),
            "received_by": "tech-7",
            "supplier": Supplier(name="Refiner AG"),
            "coc_class": coc_class,
            "metal": "gold",
            "fineness_ppt": fineness_ppt,
            "mass_mg": mass_mg,
        }
    )


def test_odd_lots_by_hand():
    lots = [
        (lot("A", 1, 585, "recycled"), 1),
        (lot("B", 7, 750, "mined"), 7),
        (lot("C", 1_000_003, 999, "recycled"), 1_000_003),
    ]
    melt = Melt.from_lots("M-1", "18k-yellow", lots, result_mass_mg=1_000_000)
    d = melt.derived()
    assert d["input_mass_mg"] == 1_000_011  # 1 + 7 + 1_000_003
    assert d["melt_loss_mg"] == 11
    assert d["recycled_mass_mg"] == 1_000_004  # A + C
    assert d["recycled_share"] == "1000004/1000011"  # already in lowest terms
    # 1_000_004 * 10**6 / 1_000_011 = 999_993.00007 -> floored
    assert d["recycled_ppm"] == 999_993
    assert d["recycled_pct"] == "99.9993"
    # 1*585 + 7*750 + 1_000_003*999 = 585 + 5_250 + 999_002_997 µg
    assert d["fine_metal_ug"] == {"gold": 999_008_832}
    assert d["fine_metal_mg"] == {"gold": 999_008}  # 832 µg kept in the exact figure
    # 999_008_832 / 1_000_011 = 998.997... ‰ -> floored
    assert d["fineness_ppt"] == {"gold": 998}
    assert d["input_coc_classes"] == ["mined", "recycled"]
    assert melt.sums.recycled_share == Fraction(1_000_004, 1_000_011)


def test_per_lot_remainders_are_not_lost():
    # three 1 mg lots at 999 ‰: flooring per lot would give 0 mg; summing µg first gives 2 mg
    uses = [(lot(f"L{i}", 1, 999), 1) for i in range(3)]
    d = Melt.from_lots("M-2", "fine", uses, 3).derived()
    assert d["fine_metal_ug"] == {"gold": 2_997}
    assert d["fine_metal_mg"] == {"gold": 2}


def test_recycled_share_never_rounds_up_to_full():
    uses = [(lot("R", MAX_MASS_MG, 750, "recycled"), MAX_MASS_MG), (lot("M", 1, 750, "mined"), 1)]
    d = Melt.from_lots("M-3", "18k", uses, 0).derived()
    assert d["recycled_ppm"] == 999_999
    assert d["recycled_pct"] == "99.9999"


lots_st = st.lists(
    st.tuples(st.integers(1, 10**9), st.integers(0, 1000), st.sampled_from(CLASSES)),
    min_size=1,
    max_size=12,
)


@given(lots_st)
def test_melt_sums_are_exact(specs):
    uses = [(lot(f"L{i}", m, f, c), m) for i, (m, f, c) in enumerate(specs)]
    melt = Melt.from_lots("M", "alloy", uses, 0)
    d = melt.derived()
    assert d["input_mass_mg"] == sum(m for m, _, _ in specs)
    recycled = sum(m for m, _, c in specs if c == "recycled")
    assert d["recycled_mass_mg"] == recycled
    assert Fraction(d["recycled_share"]) == Fraction(recycled, d["input_mass_mg"])
    ppm = d["recycled_ppm"]
    assert ppm * d["input_mass_mg"] <= recycled * 10**6 < (ppm + 1) * d["input_mass_mg"]
    fine = d["fine_metal_ug"]["gold"]
    assert fine == sum(m * f for m, f, _ in specs)
    assert d["fine_metal_mg"]["gold"] * 1000 + fine % 1000 == fine
    assert Melt.from_predicate(melt.predicate()) == melt


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=12), st.integers(0, 1000))
def test_all_recycled_is_exactly_one(masses, fineness):
    uses = [(lot(f"L{i}", m, fineness), m) for i, m in enumerate(masses)]
    d = Melt.from_lots("M", "alloy", uses, sum(masses)).derived()
    assert d["recycled_share"] == "1/1"
    assert d["recycled_ppm"] == 1_000_000
    assert d["recycled_pct"] == "100.0000"
    assert d["melt_loss_mg"] == 0


def test_melt_refusals_name_the_problem():
    with pytest.raises(ValueError, match="lot A: 5 mg taken, only 4 held"):
        Melt.from_lots("M", "alloy", [(lot("A", 4, 750), 5)], 0)
    with pytest.raises(ValidationError, match="result_mass_mg is more than the inputs"):
        Melt.from_lots("M", "alloy", [(lot("A", 4, 750), 4)], 5)
    with pytest.raises(ValidationError, match=r"inputs\n.*duplicates: A"):
        Melt.from_lots("M", "alloy", [(lot("A", 4, 750), 2), (lot("A", 4, 750), 2)], 4)


def test_tampered_melt_predicate_is_refused():
    melt = Melt.from_lots("M", "alloy", [(lot("A", 3, 750), 3), (lot("B", 4, 750, "mined"), 4)], 7)
    pred = melt.predicate() | {"recycled_pct": "50.0000"}
    with pytest.raises(
        ValueError, match=re.escape("recycled_pct: is '50.0000', the fields give '42.8571'")
    ):
        Melt.from_predicate(pred)
    with pytest.raises(ValueError, match="surprise"):
        Melt.from_predicate(melt.predicate() | {"surprise": 1})
    # the statement's own keys around the predicate are not the record's business
    stamped = melt.predicate() | {"ledger": {"index": 3}, "software": {"name": "labctl"}}
    assert Melt.from_predicate(stamped) == melt


@pytest.mark.parametrize(
    ("part", "whole", "ppt"),
    [
        (1, 3, 334),
        (2, 3, 667),
        (1, 1000, 1),
        (1, 1001, 1),
        (1000, 1001, 1000),
        (0, 7, 0),
        (-1, 3, -333),
        (-1, 1000, -1),
        (7, 7, 1000),
    ],
)
def test_loss_ppt_rounds_up(part, whole, ppt):
    assert ceil_ppt(part, whole) == ppt


def test_floor_ppm_and_pct_on_odd_values():
    assert floor_ppm(1, 3) == 333_333
    assert floor_ppm(2, 3) == 666_666
    assert ppm_pct(666_666) == "66.6666"
    assert ppm_pct(5) == "0.0005"


def qa(input_mg, pieces, scrap, tol):
    return QaBalance.model_validate(
        {
            "cast_id": "C-1",
            "input_mass_mg": input_mg,
            "pieces": [{"piece_id": f"P{i}", "mass_mg": m} for i, m in enumerate(pieces)],
            "scrap_mg": scrap,
            "tolerance_ppt": tol,
        }
    )


def test_balance_by_hand_odd_values():
    # 30_001 in, 20_000 + 3 pieces, 9_000 scrap: loss 998 mg = 33.265...‰ -> 34
    d = qa(30_001, [20_000, 3], 9_000, 34).derived()
    assert d == {"pieces_mass_mg": 20_003, "loss_mg": 998, "loss_ppt": 34, "alarm": False}
    # 1_031 mg lost = 34.365 ‰ -> 35, over 34
    assert qa(30_001, [20_000, 3], 8_967, 34).derived()["loss_ppt"] == 35
    assert qa(30_001, [20_000, 3], 8_967, 34).derived()["alarm"] is True
    # at exactly the tolerance: 3 of 1000 = 3 ‰, no alarm; 3 of 999 > 3 ‰, alarm
    assert qa(1000, [997], 0, 3).derived()["alarm"] is False
    assert qa(999, [996], 0, 3).derived() == {
        "pieces_mass_mg": 996,
        "loss_mg": 3,
        "loss_ppt": 4,
        "alarm": True,
    }


def test_gain_raises_the_alarm():
    d = qa(1000, [600], 401, 50).derived()
    assert d["loss_mg"] == -1
    assert d["loss_ppt"] == -1
    assert d["alarm"] is True


@given(
    st.integers(1, 10**9),
    st.lists(st.integers(0, 10**8), max_size=20),
    st.integers(0, 10**9),
    st.integers(0, 1000),
)
def test_balance_invariant(input_mg, pieces, scrap, tol):
    b = qa(input_mg, pieces, scrap, tol).balance
    assert b.pieces_mg + b.scrap_mg + b.loss_mg == input_mg
    assert b.pieces_mg == sum(pieces)
    exact = Fraction(b.loss_mg * 1000, input_mg)
    assert b.loss_ppt - 1 < exact <= b.loss_ppt
    assert b.alarm == (b.loss_mg < 0 or exact > tol)
    assert b.alarm == (b.loss_mg < 0 or b.loss_ppt > tol)  # published ‰ and alarm agree


def test_balance_dataclass_directly():
    b = Balance(input_mg=7, pieces_mg=3, scrap_mg=3, tolerance_ppt=142)
    assert (b.loss_mg, b.loss_share, b.loss_ppt, b.alarm) == (1, Fraction(1, 7), 143, True)


def test_qa_refusals():
    with pytest.raises(ValidationError, match=r"pieces\n.*duplicates: P0"):
        QaBalance.model_validate(
            {
                "cast_id": "C-1",
                "input_mass_mg": 10,
                "pieces": [{"piece_id": "P0", "mass_mg": 1}, {"piece_id": "P0", "mass_mg": 2}],
                "scrap_mg": 0,
                "tolerance_ppt": 5,
            }
        )
    with pytest.raises(ValidationError, match=r"scrap_mg\n.*valid integer"):
        qa(10, [1], 1.5, 5)
    with pytest.raises(ValidationError, match=r"input_mass_mg\n.*greater than or equal to 1"):
        qa(0, [], 0, 5)
