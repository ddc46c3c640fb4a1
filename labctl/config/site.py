"""The site config: which buses, devices and kilns this lab has, validated as a whole.

A TOML file (see ``systemd/site.example.toml``). Every error names the file, the field and
the problem, and the daemon refuses to start with it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labctl.config.caster import (
    Adam4018Section,
    CasterSection,
    SerialLineSection,
    Tpg36xSection,
    check_caster,
)
from labctl.config.ledger import LedgerSection
from labctl.config.line_budget import check_line_budget
from labctl.config.telemetry import InfluxSection, MqttSection, TelemetrySection, UserSection
from labctl.config.ui import UiSection
from labctl.errors import ConfigError
from labctl.kiln.interlocks import InterlockLimits


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabSection(_Strict):
    """``[lab]``."""

    name: str = Field(min_length=1, max_length=64)
    state_dir: Path = Path("/var/lib/labctl")
    profiles_dir: Path = Path("/etc/labctl/profiles")
    tick_s: float = Field(default=2.0, gt=0, le=60)
    clock_speed: float = Field(default=1.0, gt=0, le=100_000)  # >1 only for test rigs
    clock_epoch: float | None = None  # shared with `labctl sim` so both agree on the time
    #: Streamed machines (stream-mode kilns, casters) allowed to run with devices that hold no
    #: passing commissioning record for this config, under a standing alarm (commission.gate).
    allow_uncommissioned: tuple[str, ...] = ()


class TcpBus(_Strict):
    """``[buses.NAME]`` with ``kind = "tcp"``: one Modbus TCP device or gateway."""

    kind: Literal["tcp"]
    host: str = Field(min_length=1)
    port: int = Field(default=502, ge=1, le=65535)
    timeout_s: float = Field(default=1.0, gt=0, le=30)


class RtuBus(_Strict):
    """``[buses.NAME]`` with ``kind = "rtu"``: one RS-485 line."""

    kind: Literal["rtu"]
    port: str = Field(min_length=1)  # /dev/ttyUSB0, /dev/serial/by-id/...
    baudrate: Literal[2400, 4800, 9600, 19200, 38400, 57600, 115200] = 19200
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    timeout_s: float = Field(default=1.0, gt=0, le=30)


Bus = Annotated[TcpBus | RtuBus, Field(discriminator="kind")]


class DeviceSection(_Strict):
    """``[devices.NAME]``: one Modbus instrument on a bus."""

    family: Literal["eurotherm3200", "omron_e5cc", "iomodule", "delta_vfd"]
    bus: str
    unit: int = Field(default=1, ge=1, le=247)
    max_block_registers: int = Field(default=125, ge=1, le=125)  # FC3 limit
    max_fill_registers: int = Field(default=50, ge=0, le=124)  # Telegraf's default fill


Device = Annotated[DeviceSection | Tpg36xSection | Adam4018Section, Field(discriminator="family")]


class InterlockSection(_Strict):
    """``[kilns.NAME.interlocks]``: see :mod:`labctl.kiln.interlocks` for each check."""

    over_temp_margin_c: float = Field(default=10.0, ge=0, le=50)
    stale_after_s: float = Field(default=30.0, gt=0, le=600)
    stall_grace_min: float = Field(default=30.0, ge=0)
    stall_window_min: float = Field(default=20.0, gt=0)
    stall_min_rate_c_per_h: float = Field(default=20.0, ge=0)
    stall_output_pct: float = Field(default=95.0, gt=0, le=100)
    runaway_window_min: float = Field(default=10.0, gt=0)
    runaway_rise_c: float = Field(default=25.0, gt=0)
    runaway_output_pct: float = Field(default=5.0, ge=0, lt=100)

    def limits(self, max_temp_c: float) -> InterlockLimits:
        return InterlockLimits(
            max_temp_c=max_temp_c,
            over_temp_margin_c=self.over_temp_margin_c,
            stale_after_s=self.stale_after_s,
            stall_grace_s=self.stall_grace_min * 60,
            stall_window_s=self.stall_window_min * 60,
            stall_min_rate_c_per_h=self.stall_min_rate_c_per_h,
            stall_output_pct=self.stall_output_pct,
            runaway_window_s=self.runaway_window_min * 60,
            runaway_rise_c=self.runaway_rise_c,
            runaway_output_pct=self.runaway_output_pct,
        )


class ResumeSection(_Strict):
    """``[kilns.NAME.resume]``: when a restarted daemon may continue a run."""

    max_gap_min: float = Field(default=20.0, ge=0)
    max_drop_c: float = Field(default=50.0, ge=0)


class KilnSection(_Strict):
    """``[kilns.NAME]``: a burnout kiln and the controller that drives it."""

    controller: str
    flask_tc: str | None = None  # an adam4018 channel on the flask core: shown, never acted on
    mode: Literal["programmer", "stream"] = "programmer"
    max_temp_c: float = Field(gt=0, le=1200)
    fallback_sp_c: float = Field(default=0.0, ge=0, le=1200)  # stream mode: SP on comms loss
    interlocks: InterlockSection = InterlockSection()
    resume: ResumeSection = ResumeSection()

    @model_validator(mode="after")
    def _fallback_below_max(self) -> KilnSection:
        if self.fallback_sp_c >= self.max_temp_c:
            raise ValueError("fallback_sp_c must be below max_temp_c")
        if self.interlocks.runaway_output_pct >= self.interlocks.stall_output_pct:
            raise ValueError("interlocks.runaway_output_pct must be below stall_output_pct")
        return self

    def roles(self) -> dict[str, str]:
        """Role -> device name, for the devices this kiln uses."""
        named = {"controller": self.controller, "flask_tc": self.flask_tc}
        return {role: dev for role, dev in named.items() if dev is not None}


class SiteConfig(_Strict):
    """The whole site file."""

    lab: LabSection
    buses: dict[str, Bus] = {}
    lines: dict[str, SerialLineSection] = {}
    devices: dict[str, Device] = {}
    kilns: dict[str, KilnSection] = {}
    casters: dict[str, CasterSection] = {}
    telemetry: TelemetrySection = TelemetrySection()
    influx: InfluxSection | None = None
    mqtt: MqttSection | None = None
    users: dict[str, UserSection] = {}
    ledger: LedgerSection | None = None
    ui: UiSection | None = None

    def modbus_device(self, name: str) -> DeviceSection:
        """The Modbus device ``name`` (the cross-checks guarantee roles get the right kind)."""
        device = self.devices[name]
        if not isinstance(device, DeviceSection):
            raise TypeError(f"{name} is a serial {device.family}, not a Modbus device")
        return device

    @property
    def state_dir(self) -> Path:
        return self.lab.state_dir

    @property
    def profiles_dir(self) -> Path:
        return self.lab.profiles_dir


def _cross_check(site: SiteConfig) -> tuple[str, str] | None:
    """References between sections; returns (field, problem) for the first inconsistency."""
    return (
        _check_devices(site)
        or _check_ports(site)
        or _check_machines(site)
        or _check_names(site)
        or _check_badges(site)
        or _check_uncommissioned(site)
    )


def _check_uncommissioned(site: SiteConfig) -> tuple[str, str] | None:
    """``lab.allow_uncommissioned`` names streamed machines of this site only."""
    for name in site.lab.allow_uncommissioned:
        kiln = site.kilns.get(name)
        if kiln is None and name not in site.casters:
            return "lab.allow_uncommissioned", f"no kiln or caster named {name!r}"
        if kiln is not None and kiln.mode != "stream":
            return (
                "lab.allow_uncommissioned",
                f"kiln {name} runs its program in the controller (mode = {kiln.mode!r}); "
                "only streamed machines need this exemption: remove it from the list",
            )
    return None


def _check_badges(site: SiteConfig) -> tuple[str, str] | None:
    """A badge number signs in one person only."""
    seen: dict[str, str] = {}
    for name, user in site.users.items():
        if user.badge is not None and seen.setdefault(user.badge, name) != name:
            return f"users.{name}.badge", f"badge {user.badge} is also {seen[user.badge]}'s"
    return None


def _check_names(site: SiteConfig) -> tuple[str, str] | None:
    """With MQTT, the lab, machine and user names are topic segments."""
    if site.mqtt is None:
        return None
    names = [("lab.name", site.lab.name)]
    names += [(f"kilns.{n}", n) for n in site.kilns] + [(f"casters.{n}", n) for n in site.casters]
    names += [(f"users.{n}", n) for n in site.users]
    for field, name in names:
        if not _SEGMENT.fullmatch(name):
            return field, f"{name!r} is used in MQTT topics: use 1-64 letters, digits, _ . or -"
    return None


def _check_devices(site: SiteConfig) -> tuple[str, str] | None:
    seen_units: dict[tuple[str, int], str] = {}
    for name, dev in site.devices.items():
        if isinstance(dev, DeviceSection):
            where, key, unit = dev.bus, (dev.bus, dev.unit), ("unit", dev.unit)
            if dev.bus not in site.buses:
                return f"devices.{name}.bus", f"no bus named {dev.bus!r} in [buses]"
        else:
            unit = (
                ("address", dev.address)
                if isinstance(dev, Adam4018Section)
                else ("channel", dev.channel)
            )
            where, key = dev.line, (dev.line, unit[1])
            if dev.line not in site.lines:
                return f"devices.{name}.line", f"no serial line named {dev.line!r} in [lines]"
        other = seen_units.setdefault(key, name)
        if other != name:
            return f"devices.{name}.{unit[0]}", f"{unit[0]} {unit[1]} on {where} is already {other}"
    return None


def _check_ports(site: SiteConfig) -> tuple[str, str] | None:
    ports: dict[str, str] = {}
    endpoints = [
        (f"buses.{n}.port", b.port if isinstance(b, RtuBus) else f"{b.host}:{b.port}")
        for n, b in site.buses.items()
    ] + [(f"lines.{n}.port", line.port) for n, line in site.lines.items()]
    for field, key in endpoints:
        other = ports.setdefault(key, field)
        if other != field:
            return field, f"{key} is already used by {other.rsplit('.', 1)[0]}"
    return None


def _check_machines(site: SiteConfig) -> tuple[str, str] | None:
    users: dict[str, str] = {}
    families = {name: dev.family for name, dev in site.devices.items()}
    uses = [
        (f"kilns.{n}.{role}", dev) for n, k in site.kilns.items() for role, dev in k.roles().items()
    ]
    for name, caster in site.casters.items():
        problem = check_caster(name, caster, families)
        if problem is not None:
            return problem
        uses += [(f"casters.{name}.{role}", dev) for role, dev in caster.roles().items()]
    for field, device in uses:
        if device not in site.devices:
            return field, f"no device named {device!r} in [devices]"
        role, family = field.rsplit(".", 1)[1], families[device]
        if field.startswith("kilns.") and family != KILN_ROLES[role]:
            return field, f"{device} is {family}, but a kiln's {role} needs {KILN_ROLES[role]}"
        other = users.setdefault(device, field)
        if other != field:
            return field, f"{device} is already used by {other.rsplit('.', 1)[0]}"
    return _check_flask_lines(site)


#: The device family each kiln role takes.
KILN_ROLES = {"controller": "eurotherm3200", "flask_tc": "adam4018"}


def _check_flask_lines(site: SiteConfig) -> tuple[str, str] | None:
    """A kiln's flask thermocouple has a serial line of its own: casters open theirs apart."""
    caster_lines = {
        dev.line: name
        for name, caster in site.casters.items()
        for dev in (site.devices[d] for d in caster.roles().values())
        if not isinstance(dev, DeviceSection)
    }
    for name, kiln in site.kilns.items():
        dev = site.devices[kiln.flask_tc] if kiln.flask_tc is not None else None
        if isinstance(dev, Adam4018Section) and dev.line in caster_lines:
            return (
                f"kilns.{name}.flask_tc",
                f"line {dev.line} also serves casters.{caster_lines[dev.line]}; "
                "put the kiln's flask thermocouple on a line of its own",
            )
    return None


_SEGMENT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TAGS = frozenset(
    {"tcp", "rtu", "eurotherm3200", "omron_e5cc", "iomodule", "delta_vfd", "tpg36x", "adam4018"}
)


def load_site(path: Path) -> SiteConfig:
    """Read and validate a site file; raises ConfigError naming file, field and problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(path, "", f"cannot read: {err.strerror}") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(path, "toml", f"not valid TOML: {err}") from err
    except RecursionError:
        raise ConfigError(path, "toml", "nested too deeply to be a site file") from None
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if p not in _TAGS)
        raise ConfigError(path, field or "(top level)", first["msg"]) from err
    problem = _cross_check(site) or check_line_budget(site)
    if problem is not None:
        raise ConfigError(path, *problem)
    return site
