"""Site config: whole-file validation, errors naming file, field and problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from labctl.config import load_site
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
    from labctl.app import run_daemon_from_config

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
