"""The alloy library: every file loads and cites its numbers; broken files say what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.errors import ProfileError
from labctl.profiles.alloys import GYPSUM_LIMIT_C, load_alloy
from labctl.profiles.loader import check_profiles

ROOT = Path(__file__).resolve().parents[2]
ALLOYS = sorted((ROOT / "profiles" / "alloys").glob("*.toml"))
BAD = sorted((Path(__file__).parent / "fixtures" / "bad_alloys" / "alloys").glob("*.toml"))
REQUIRED = {
    "gold-10k-yellow",
    "gold-14k-yellow",
    "gold-18k-yellow",
    "gold-10k-white",
    "gold-14k-white",
    "gold-18k-white",
    "gold-10k-rose",
    "gold-14k-rose",
    "gold-18k-rose",
    "silver-925",
    "platinum-950",
    "palladium-950",
}


def test_library_covers_the_required_alloys() -> None:
    assert {p.stem for p in ALLOYS} >= REQUIRED


@pytest.mark.parametrize("path", ALLOYS, ids=lambda p: p.stem)
def test_alloy_loads_and_is_consistent(path: Path) -> None:
    alloy = load_alloy(path)
    assert alloy.liquidus_c < alloy.pour_temp_c <= alloy.crucible_max_c
    if alloy.investment == "gypsum":
        assert alloy.flask.for_class("thin") <= GYPSUM_LIMIT_C
        assert alloy.burnout_profiles, "a gypsum alloy names the schedules it allows"


@pytest.mark.parametrize("path", ALLOYS, ids=lambda p: p.stem)
def test_every_number_has_a_source(path: Path) -> None:
    section_cited = False
    for line in path.read_text().splitlines():
        if line.startswith("["):
            section_cited = "#" in line
            continue
        key, _, value = line.partition("=")
        if value.strip()[:1].isdigit() and key.strip() != "schema_version":
            assert "#" in line or section_cited, f"{path.name}: no source for {line!r}"


def test_shipped_library_passes_profiles_check() -> None:
    good, errors = check_profiles([ROOT / "profiles"])
    assert errors == []
    assert {(path, "alloy") for path in ALLOYS} <= set(good)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_broken_alloy_names_file_field_problem(path: Path, tmp_path: Path) -> None:
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    (tmp_path / "burnout").mkdir()
    (tmp_path / "alloys").mkdir()
    copy = tmp_path / "alloys" / path.name
    copy.write_text(path.read_text())
    _, errors = check_profiles([copy])
    assert len(errors) == 1
    message = str(errors[0])
    assert message.startswith(f"{copy}: "), message
    assert expected in message, message


def test_piece_class_selects_flask_temperature() -> None:
    alloy = load_alloy(ROOT / "profiles" / "alloys" / "silver-925.toml")
    temps = [alloy.flask.for_class(c) for c in ("thin", "medium", "heavy")]
    assert temps == sorted(temps, reverse=True)
    with pytest.raises(ProfileError):
        load_alloy(BAD[0])  # name does not match, or the value is broken
