"""Shipped profiles load; bad files are refused naming file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.errors import ProfileError
from labctl.profiles.loader import (
    check_profiles,
    load_burnout,
    schedule_from_json,
    schedule_to_json,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "profiles" / "burnout").glob("*.toml"))
BAD = sorted((Path(__file__).parent / "fixtures" / "bad_profiles").glob("*.toml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_profile_loads_and_round_trips(path: Path) -> None:
    schedule = load_burnout(path)
    assert schedule.name == path.stem
    assert schedule.max_temp_c < 788, "gypsum investment limit (Stuller)"
    assert schedule_from_json(schedule_to_json(schedule)) == schedule


def test_every_number_in_shipped_profiles_has_a_source_comment() -> None:
    for path in SHIPPED:
        for line in path.read_text().splitlines():
            key = line.split("=")[0].strip()
            if key.endswith(("_c", "_min", "_h")):
                assert "#" in line, f"{path.name}: no source for {line!r}"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_profile_names_file_field_and_problem(path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(ProfileError) as caught:
        load_burnout(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    assert expected in message, message


def test_check_profiles_reports_all_problems() -> None:
    good, errors = check_profiles([ROOT / "profiles", BAD[0].parent])
    assert {(path, "burnout") for path in SHIPPED} <= set(good)
    assert sorted(e.path for e in errors) == BAD


def test_name_must_match_file(tmp_path: Path) -> None:
    copy = tmp_path / "other.toml"
    copy.write_text(SHIPPED[0].read_text())
    with pytest.raises(ProfileError, match=r"name: .* must match the file name"):
        load_burnout(copy)


def test_a_file_is_checked_as_what_its_content_says_wherever_it_lies(tmp_path: Path) -> None:
    """Regression (issue 12): an alloy outside ``alloys/`` was checked as a burnout."""
    alloy = tmp_path / "gold-18k-yellow.toml"
    alloy.write_text((ROOT / "profiles" / "alloys" / "gold-18k-yellow.toml").read_text())
    (tmp_path / "burnout").symlink_to(ROOT / "profiles" / "burnout")  # what it allows
    burnout = tmp_path / SHIPPED[0].name
    burnout.write_text(SHIPPED[0].read_text())
    good, errors = check_profiles([alloy, burnout])
    assert (good, errors) == ([(alloy, "alloy"), (burnout, "burnout")], [])
    _, errors = check_profiles([alloy], kind="burnout")  # a person may insist
    assert "pattern: Field required" in str(errors[0])


def test_a_file_of_neither_kind_asks_for_kind(tmp_path: Path) -> None:
    odd = tmp_path / "odd.toml"
    odd.write_text('name = "odd"\n')
    _, (error,) = check_profiles([odd])
    assert str(error) == (
        f"{odd}: cannot tell its kind: a burnout profile has segments, an alloy has a metal; "
        "give --kind burnout or --kind alloy"
    )
