"""The site config: which buses, devices and machines this lab has, validated as a whole.

A TOML file (see ``systemd/site.example.toml``). Each section's model sits in its own module
(:mod:`.buses`, :mod:`.kiln`, :mod:`.caster`, :mod:`.telemetry`, :mod:`.users`, :mod:`.ledger`,
:mod:`.ui`); here are the whole file, :func:`load_site` and the checks across sections. Every
error names the file, the field and the problem, and the daemon refuses to start with it.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from drivers.families import FAMILIES, families_for
from labctl.config.base import NAME_RE, Strict, field_name, read_toml, validate
from labctl.config.buses import (
    BUS_KINDS,
    Adam4018Section,
    Bus,
    Device,
    DeviceSection,
    RtuBus,
    SerialLineSection,
)
from labctl.config.caster import CasterSection, check_caster
from labctl.config.kiln import KilnSection
from labctl.config.ledger import LedgerSection
from labctl.config.line_budget import check_line_budget
from labctl.config.telemetry import InfluxSection, MqttSection, TelemetrySection
from labctl.config.ui import UiSection
from labctl.config.users import UserSection
from labctl.errors import ConfigError


class LabSection(Strict):
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


class SiteConfig(Strict):
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
        if not NAME_RE.fullmatch(name):
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
        if field.startswith("kilns.") and family not in families_for(role):
            needs = ", ".join(sorted(families_for(role)))
            return field, f"{device} is {family}, but a kiln's {role} needs {needs}"
        other = users.setdefault(device, field)
        if other != field:
            return field, f"{device} is already used by {other.rsplit('.', 1)[0]}"
    return _check_flask_lines(site)


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


#: The union tags pydantic puts in an error's location: not fields of the file.
_TAGS = BUS_KINDS | FAMILIES.keys()


def load_site(path: Path) -> SiteConfig:
    """Read and validate a site file; raises ConfigError naming file, field and problem."""
    data = read_toml(path, ConfigError, "a site file")
    site = validate(SiteConfig, data, path, ConfigError, lambda loc: field_name(loc, skip=_TAGS))
    problem = _cross_check(site) or check_line_budget(site)
    if problem is not None:
        raise ConfigError(path, *problem)
    return site
