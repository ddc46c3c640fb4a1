"""``[ui]`` and ``[users]``: loopback by default, protection required off it, badges unique."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from labctl.config.site import load_site
from labctl.config.ui import UiSection
from labctl.errors import ConfigError
from labctl.sim.site import ui_site
from labctl.web.pins import hash_pin, verify_pin

HASH = hash_pin("2468", n=2**4)


def test_the_default_is_loopback_with_the_overview_readable() -> None:
    ui = UiSection()
    assert ui.loopback and not ui.tls and not ui.behind_proxy
    assert ui.anonymous_view
    assert UiSection(host="localhost").loopback
    assert UiSection(host="::1").loopback
    assert UiSection(host="127.0.0.2").loopback
    assert not UiSection(view_without_signin=False).anonymous_view


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_behind_a_proxy_on_this_host_nothing_is_anonymous(host: str) -> None:
    """A proxy on the same host makes every browser it forwards a loopback client."""
    ui = UiSection(host=host, behind_proxy=True, view_without_signin=True)
    assert ui.loopback and not ui.anonymous_view


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "kiln-pi.local"])
def test_off_loopback_needs_tls_or_a_proxy(host: str) -> None:
    with pytest.raises(ValidationError) as caught:
        UiSection(host=host)
    message = str(caught.value)
    assert host in message and "tls_cert_file" in message and "behind_proxy" in message
    proxied = UiSection(host=host, behind_proxy=True)
    assert not proxied.loopback
    assert not proxied.anonymous_view  # never anonymous off loopback, whatever was asked
    assert not UiSection(host=host, tls_cert_file=Path("c"), tls_key_file=Path("k")).anonymous_view


@pytest.mark.parametrize("given", [{"tls_cert_file": "c.pem"}, {"tls_key_file": "k.pem"}])
def test_one_tls_file_alone_is_refused(given: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="give both tls_cert_file and tls_key_file"):
        UiSection.model_validate(given)
    with pytest.raises(ValidationError, match="give both"):
        UiSection.model_validate({"host": "0.0.0.0", "behind_proxy": True} | given)


@pytest.mark.parametrize(
    "bad",
    [
        {"port": 70000},
        {"idle_signout_s": 5},
        {"temperature_unit": "K"},
        {"max_push_hz": 0},
        {"x": 1},
    ],
)
def test_out_of_range_values_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        UiSection.model_validate(bad)


@pytest.fixture
def write(tmp_path: Path, minimal_site: str) -> Callable[[str], Path]:
    """Write the minimal site plus ``text`` to a file and return its path."""

    def write_site(text: str) -> Path:
        path = tmp_path / "site.toml"
        path.write_text(minimal_site + text)
        return path

    return write_site


def test_a_site_with_ui_and_users_loads(write: Callable[[str], Path]) -> None:
    people = {"ana": ("technician", "1001", "2468"), "ben": ("supervisor", "2002", "1357")}
    site = load_site(write(ui_site(0, people, {"temperature_unit": "F"})))
    assert site.ui is not None
    assert (site.ui.host, site.ui.port, site.ui.temperature_unit) == ("127.0.0.1", 0, "F")
    for name, (role, badge, pin) in people.items():
        user = site.users[name]
        assert (user.role, user.badge) == (role, badge)
        assert user.pin_hash is not None and verify_pin(pin, user.pin_hash)
        assert pin not in user.pin_hash


def test_no_ui_section_means_no_touchscreen(write: Callable[[str], Path]) -> None:
    assert load_site(write("")).ui is None


@pytest.mark.parametrize(
    ("text", "field", "problem"),
    [
        ('[users.ana]\nbadge = "1001"\n', "users.ana", "give both badge and pin_hash"),
        (f'[users.ana]\npin_hash = "{HASH}"\n', "users.ana", "give both badge and pin_hash"),
        (f'[users.ana]\nbadge = "10-01"\npin_hash = "{HASH}"\n', "users.ana.badge", "pattern"),
        ('[users.ana]\nbadge = "1001"\npin_hash = "2468"\n', "users.ana.pin_hash", "pattern"),
        (
            f'[users.ana]\nbadge = "1001"\npin_hash = "{HASH}"\n'
            f'[users.ben]\nbadge = "1001"\npin_hash = "{HASH}"\n',
            "users.ben.badge",
            "badge 1001 is also ana's",
        ),
        ('[ui]\nhost = "0.0.0.0"\n', "ui", "not loopback"),
    ],
)
def test_bad_users_or_ui_are_refused_naming_the_field(
    write: Callable[[str], Path], text: str, field: str, problem: str
) -> None:
    path = write(text)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    assert str(caught.value).startswith(f"{path}: {field}: "), caught.value
    assert problem in str(caught.value)
