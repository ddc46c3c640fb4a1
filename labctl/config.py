"""The site config: which buses, devices and kilns this lab has, validated as a whole.

A TOML file (see ``systemd/site.example.toml``). Every error names the file, the field and
the problem, and the daemon refuses to start with it.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from labctl.errors import ConfigError
from labctl.interlocks import InterlockLimits


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
    """``[devices.NAME]``: one instrument on a bus."""

    family: Literal["eurotherm3200"]
    bus: str
    unit: int = Field(default=1, ge=1, le=247)
    max_block_registers: int = Field(default=125, ge=1, le=125)  # FC3 limit
    max_fill_registers: int = Field(default=50, ge=0, le=124)  # Telegraf's default fill


class InterlockSection(_Strict):
    """``[kilns.NAME.interlocks]``: see :mod:`labctl.interlocks` for each check."""

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


class SiteConfig(_Strict):
    """The whole site file."""

    lab: LabSection
    buses: dict[str, Bus] = {}
    devices: dict[str, DeviceSection] = {}
    kilns: dict[str, KilnSection] = {}

    @property
    def state_dir(self) -> Path:
        return self.lab.state_dir

    @property
    def profiles_dir(self) -> Path:
        return self.lab.profiles_dir


def _cross_check(site: SiteConfig) -> tuple[str, str] | None:
    """References between sections; returns (field, problem) for the first inconsistency."""
    seen_units: dict[tuple[str, int], str] = {}
    for name, dev in site.devices.items():
        if dev.bus not in site.buses:
            return f"devices.{name}.bus", f"no bus named {dev.bus!r} in [buses]"
        other = seen_units.setdefault((dev.bus, dev.unit), name)
        if other != name:
            return f"devices.{name}.unit", f"unit {dev.unit} on {dev.bus} is already {other}"
    ports: dict[str, str] = {}
    for name, bus in site.buses.items():
        key = bus.port if isinstance(bus, RtuBus) else f"{bus.host}:{bus.port}"
        other = ports.setdefault(key, name)
        if other != name:
            return f"buses.{name}.port", f"{key} is already used by bus {other}"
    controllers: dict[str, str] = {}
    for name, kiln in site.kilns.items():
        if kiln.controller not in site.devices:
            return f"kilns.{name}.controller", f"no device named {kiln.controller!r} in [devices]"
        other = controllers.setdefault(kiln.controller, name)
        if other != name:
            return f"kilns.{name}.controller", f"{kiln.controller} already drives kiln {other}"
    return None


def load_site(path: Path) -> SiteConfig:
    """Read and validate a site file; raises ConfigError naming file, field and problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(path, "", f"cannot read: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, "toml", f"not valid TOML: {err}") from err
    try:
        site = SiteConfig.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if p not in ("tcp", "rtu"))
        raise ConfigError(path, field or "(top level)", first["msg"]) from err
    problem = _cross_check(site)
    if problem is not None:
        raise ConfigError(path, *problem)
    return site
