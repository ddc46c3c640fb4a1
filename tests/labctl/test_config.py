"""Site config: whole-file validation, errors naming file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.config.site import load_site
from labctl.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_site_config_is_valid() -> None:
    site = load_site(ROOT / "systemd" / "site.example.toml")
    assert site.kilns["kiln1"].mode == "programmer"


@pytest.mark.parametrize(
    ("change", "field", "problem"),
    [
        (('bus = "a"', 'bus = "b"'), "devices.tc1.bus", "no bus named 'b'"),
        (('controller = "tc1"', 'controller = "tcx"'), "kilns.k1.controller", "no device"),
        (("max_temp_c = 800", "max_temp_c = 8000"), "kilns.k1.max_temp_c", "less than or equal"),
        (("port = 5020", "port = 5020\nspeed = 1"), "buses.a.speed", "Extra inputs"),
        (('kind = "tcp"', 'kind = "udp"'), "buses.a", "tag 'udp'"),
        (("[lab]", "[lab"), "toml", "not valid TOML"),
    ],
)
def test_bad_config_is_refused_with_file_field_problem(
    tmp_path: Path, minimal_site: str, change: tuple[str, str], field: str, problem: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(minimal_site.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert str(caught.value).startswith(f"{path}: {field}: "), caught.value
    assert problem in str(caught.value)


def test_a_unit_twice_on_one_bus_is_refused(tmp_path: Path, minimal_site: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(minimal_site + '[devices.tc2]\nfamily = "eurotherm3200"\nbus = "a"\n')
    with pytest.raises(ConfigError, match=r"devices\.tc2\.unit: unit 1 on a is already tc1"):
        load_site(path)


async def test_daemon_refuses_to_start_with_a_bad_profile(
    tmp_path: Path, minimal_site: str, caplog: pytest.LogCaptureFixture
) -> None:
    from labctl.daemon.run import run_daemon_from_config

    profiles = tmp_path / "profiles" / "burnout"
    profiles.mkdir(parents=True)
    (profiles / "broken.toml").write_text('name = "broken')
    path = tmp_path / "site.toml"
    path.write_text(
        minimal_site.replace(
            'name = "t"',
            f'name = "t"\nprofiles_dir = "{profiles.parent}"\nstate_dir = "{tmp_path / "state"}"',
        )
    )
    assert await run_daemon_from_config(path) == 2
    assert f"not starting: {profiles / 'broken.toml'}: toml: not valid TOML" in caplog.text


FLASK_TC = """
[lines.core_line]
port = "/dev/ttyUSB4"
[devices.core]
family = "adam4018"
line = "core_line"
"""


def _kiln_with_flask_tc(site: str, device: str) -> str:
    return site.replace("max_temp_c = 800\n", f'max_temp_c = 800\nflask_tc = "{device}"\n', 1)


def test_a_kiln_takes_an_adam4018_channel_as_its_flask_thermocouple(
    tmp_path: Path, minimal_site: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(_kiln_with_flask_tc(minimal_site, "core") + FLASK_TC)
    site = load_site(path)
    assert site.kilns["k1"].flask_tc == "core"
    assert site.kilns["k1"].roles() == {"controller": "tc1", "flask_tc": "core"}


SECOND_KILN = '[kilns.k2]\ncontroller = "tc2"\nmax_temp_c = 800\n'
SECOND_CONTROLLER = '[devices.tc2]\nfamily = "eurotherm3200"\nbus = "a"\nunit = 2\n'
CASTER_ON_CORE_LINE = """
[devices.crucible1]
family = "omron_e5cc"
bus = "a"
unit = 3
[devices.io1]
family = "iomodule"
bus = "a"
unit = 4
[devices.caster_tc]
family = "adam4018"
line = "core_line"
address = 2
[devices.vfd1]
family = "delta_vfd"
bus = "a"
unit = 5
[casters.c1]
kind = "centrifugal"
crucible = "crucible1"
io = "io1"
drive = "vfd1"
crucible_tc = "{tc}"
crucible_max_c = 1450
accept_crucible_without_lease = true
"""


@pytest.mark.parametrize(
    ("device", "extra", "field", "problem"),
    [
        ("nowhere", "", "kilns.k1.flask_tc", "no device named 'nowhere' in [devices]"),
        ("tc1", "", "kilns.k1.flask_tc", "tc1 is eurotherm3200, but a kiln's flask_tc needs"),
        (
            "core",
            SECOND_CONTROLLER + _kiln_with_flask_tc(SECOND_KILN, "core"),
            "kilns.k2.flask_tc",
            "core is already used by kilns.k1",
        ),
        (
            "core",
            CASTER_ON_CORE_LINE.format(tc="core"),
            "casters.c1.crucible_tc",
            "core is already used by kilns.k1",
        ),
        (
            "core",
            CASTER_ON_CORE_LINE.format(tc="caster_tc"),
            "kilns.k1.flask_tc",
            "line core_line also serves casters.c1",
        ),
    ],
)
def test_a_bad_flask_thermocouple_is_refused_naming_the_field(
    tmp_path: Path, minimal_site: str, device: str, extra: str, field: str, problem: str
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(_kiln_with_flask_tc(minimal_site, device) + FLASK_TC + extra)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert caught.value.field == field, caught.value
    assert caught.value.problem.startswith(problem), caught.value
