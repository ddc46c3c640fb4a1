"""Casters in the site config: whole-config checks, each error naming file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.config.limits import CasterKind
from labctl.config.site import load_site
from labctl.errors import ConfigError

BASE = (Path(__file__).parent / "fixtures" / "bad_sites" / "_base_caster.toml").read_text()


def site_file(tmp_path: Path, old: str, new: str, name: str = "site.toml") -> Path:
    assert old in BASE, old
    path = tmp_path / name
    path.write_text(BASE.replace(old, new, 1))
    return path


def test_the_base_caster_site_is_valid(tmp_path: Path) -> None:
    site = load_site(site_file(tmp_path, "[lab]", "[lab]"))
    caster = site.casters["vc1"]
    assert caster.kind is CasterKind.VACUUM
    assert caster.roles() == {
        "crucible": "crucible1",
        "io": "io1",
        "crucible_tc": "tc1",
        "gauge": "gauge1",
    }


@pytest.mark.parametrize(
    ("old", "new", "field", "problem"),
    [
        ('gauge = "gauge1"\n', "", "casters.vc1", "a vacuum caster needs a gauge"),
        ('gauge = "gauge1"', 'gauge = "gauge9"', "casters.vc1.gauge", "no device named 'gauge9'"),
        (
            'gauge = "gauge1"',
            'gauge = "tc1"',
            "casters.vc1.gauge",
            "tc1 is adam4018, but gauge needs tpg36x",
        ),
        (
            "accept_crucible_without_lease = true",
            'accept_crucible_without_lease = true\n[casters.vc2]\nkind = "vacuum"\n'
            'crucible = "crucible1"\ngauge = "gauge1"\nio = "io1"\ncrucible_max_c = 1450\n'
            "accept_crucible_without_lease = true",
            "casters.vc2.crucible",
            "crucible1 is already used by casters.vc1",
        ),
        ("accept_crucible_without_lease = true", "", "casters.vc1.crucible", "no comms watchdog"),
        ('line = "tc_line"', 'line = "nowhere"', "devices.tc1.line", "no serial line"),
        ('port = "/dev/ttyUSB2"', 'port = "/dev/ttyUSB1"', "lines.tc_line.port", "already used"),
        ("unit = 2", "unit = 1", "devices.io1.unit", "unit 1 on caster_bus is already crucible1"),
        ('kind = "vacuum"', 'kind = "gravity"', "casters.vc1.kind", "Input should be"),
        ("crucible_max_c = 1450", "crucible_max_c = 5000", "casters.vc1.crucible_max_c", "less"),
        ('family = "tpg36x"', 'family = "tpg999"', "devices.gauge1", "does not match any"),
        ("address = 1", "address = 1\nbaud = 9600", "devices.tc1.baud", "Extra inputs"),
    ],
)
def test_a_broken_caster_site_names_file_field_and_problem(tmp_path, old, new, field, problem):
    path = site_file(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_site(path)
    assert err.value.path == path
    assert err.value.field == field
    assert problem in err.value.problem


def test_a_centrifugal_caster_needs_a_drive_of_the_right_family(tmp_path: Path) -> None:
    path = site_file(tmp_path, 'kind = "vacuum"', 'kind = "centrifugal"\ndrive = "io1"')
    with pytest.raises(
        ConfigError, match=r"casters\.vc1\.drive: io1 is iomodule, but drive needs delta_vfd"
    ):
        load_site(path)
