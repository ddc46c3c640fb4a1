"""Site files for a simulated lab (the demo and the HIL tests): a kiln and optionally a caster.

The text is an ordinary site config (see ``systemd/site.example.toml``), so what the demo and
the tests run is exactly what ``labctl run --config`` would load on a test rig.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, Protocol

from labctl.web.pins import hash_pin

LEDGER_ORIGIN = "demo.labctl.invalid/ledger/v1"

_LAB = """
[lab]
name = "{name}"
state_dir = "{state}"
tick_s = {tick}
clock_speed = {speed}
clock_epoch = {epoch}
profiles_dir = "{profiles}"
allow_uncommissioned = {allowed}
"""

_KILN = """
[buses.{kiln}_link]
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[devices.{kiln}_tc]
family = "eurotherm3200"
bus = "{kiln}_link"

[kilns.{kiln}]
controller = "{kiln}_tc"
mode = "{mode}"
max_temp_c = 800
{flask}"""

_FLASK_TC = """
[lines.{kiln}_core_line]
port = "{path}"
timeout_s = 0.3

[devices.{kiln}_core]
family = "adam4018"
line = "{kiln}_core_line"
"""

_CASTER = """
[buses.crucible_link]
kind = "tcp"
host = "127.0.0.1"
port = {crucible_port}
timeout_s = 0.3

[buses.io_link]
kind = "tcp"
host = "127.0.0.1"
port = {io_port}
timeout_s = 0.3

[lines.tc_line]
port = "{tc_path}"
timeout_s = 0.3

[devices.crucible1]
family = "omron_e5cc"
bus = "crucible_link"

[devices.io1]
family = "iomodule"
bus = "io_link"

[devices.tc1]
family = "adam4018"
line = "tc_line"
address = 1
{machine}
[casters.caster1]
kind = "{kind}"
crucible = "crucible1"
crucible_tc = "tc1"
io = "io1"
{role}
crucible_max_c = 1450
accept_crucible_without_lease = true  # a simulated E5CC: no comms watchdog
stabilise_s = {stabilise_s}
confirm_timeout_s = {confirm_timeout_s}
stale_after_s = 20
io_lease_s = 60
drive_lease_s = 60
"""

_GAUGE = """
[lines.gauge_line]
port = "{gauge}"
timeout_s = 0.3

[devices.gauge1]
family = "tpg36x"
line = "gauge_line"
"""

_DRIVE = """
[buses.drive_link]
kind = "tcp"
host = "127.0.0.1"
port = {drive}
timeout_s = 0.3

[devices.vfd1]
family = "delta_vfd"
bus = "drive_link"
"""


#: Who can sign in on a simulated lab's touchscreen: name -> (role, badge, PIN).
RIG_PEOPLE: dict[str, tuple[str, str, str]] = {
    "tech": ("technician", "1001", "2468"),
    "super": ("supervisor", "2002", "1357"),
}


def ui_site(
    port: int,
    people: Mapping[str, tuple[str, str, str]] = RIG_PEOPLE,
    options: Mapping[str, object] | None = None,
) -> str:
    """``[ui]`` on loopback ``port`` (plus ``options``) and a ``[users.NAME]`` per person."""
    text = f'\n[ui]\nhost = "127.0.0.1"\nport = {port}\n'
    text += "".join(f"{k} = {json.dumps(v)}\n" for k, v in (options or {}).items())
    for name, (role, badge, pin) in people.items():
        text += f'\n[users.{name}]\nrole = "{role}"\nbadge = "{badge}"\n'
        text += f'pin_hash = "{hash_pin(pin)}"\n'
    return text


class CasterPorts(Protocol):
    """Where a simulated caster's devices listen (``drivers._sim.caster_rig`` provides it)."""

    @property
    def kind(self) -> Literal["vacuum", "centrifugal"]: ...
    @property
    def crucible_port(self) -> int: ...
    @property
    def io_port(self) -> int: ...
    @property
    def tc_path(self) -> Path: ...
    @property
    def gauge_path(self) -> Path | None: ...
    @property
    def drive_port(self) -> int | None: ...


def rig_site(
    *,
    state: Path,
    profiles: Path,
    speed: float,
    epoch: float,
    tick_s: float,
    kiln_port: int,
    mode: str = "stream",
    flask_tc: Path | None = None,
    kiln2: tuple[int, str] | None = None,
    caster: CasterPorts | None = None,
    stabilise_s: float = 10.0,
    confirm_timeout_s: float = 120.0,
    caster_tick_s: float | None = None,
    name: str = "simulated lab",
    ledger_key: Path | None = None,
    allow_uncommissioned: bool = True,
) -> str:
    """The site file text: a kiln ``kiln1``, plus ``kiln2`` and ``caster1`` when given.

    ``flask_tc`` is the pty of ``kiln1``'s flask-core ADAM-4018 (address 1, channel 0);
    ``kiln2`` is the second kiln's (port, mode); ``caster_tick_s`` sets the caster's tick.
    ``allow_uncommissioned``: simulated devices hold no commissioning record, so by default
    every streamed machine is named in ``[lab] allow_uncommissioned`` (and runs under its
    standing "not commissioned" alarm); False leaves the list empty.
    """
    kilns = {"kiln1": mode} | ({} if kiln2 is None else {"kiln2": kiln2[1]})
    allowed = [k for k, m in kilns.items() if m == "stream"] + (["caster1"] if caster else [])
    flask = "" if flask_tc is None else 'flask_tc = "kiln1_core"\n'
    text = _LAB.format(
        name=name, state=state, tick=tick_s, speed=speed, epoch=epoch, profiles=profiles,
        allowed=json.dumps(allowed if allow_uncommissioned else []),
    ) + _KILN.format(kiln="kiln1", port=kiln_port, mode=mode, flask=flask)  # fmt: skip
    if flask_tc is not None:
        text += _FLASK_TC.format(kiln="kiln1", path=flask_tc)
    if kiln2 is not None:
        text += _KILN.format(kiln="kiln2", port=kiln2[0], mode=kiln2[1], flask="")
    if ledger_key is not None:
        text += f'\n[ledger]\norigin = "{LEDGER_ORIGIN}"\nkey_files = ["{ledger_key}"]\n'
    if caster is None:
        return text
    vacuum = caster.kind == "vacuum"
    machine = (
        _GAUGE.format(gauge=caster.gauge_path) if vacuum else _DRIVE.format(drive=caster.drive_port)
    )
    return (
        text
        + _CASTER.format(
            crucible_port=caster.crucible_port,
            io_port=caster.io_port,
            tc_path=caster.tc_path,
            machine=machine,
            kind=caster.kind,
            role='gauge = "gauge1"' if vacuum else 'drive = "vfd1"',
            stabilise_s=stabilise_s,
            confirm_timeout_s=confirm_timeout_s,
        )
        + ("" if caster_tick_s is None else f"tick_s = {caster_tick_s}\n")
    )
