"""``labctl sim --config rig.toml``: simulated devices for a test rig or the demo.

A rig file names each simulated device and where it listens::

    speed = 600            # simulated seconds per wall second (same as the daemon's clock_speed)
    epoch = 1767225600     # optional: shared clock epoch (the daemon's clock_epoch)
    control_port = 8760    # optional: the control API on 127.0.0.1 (0: any free port; absent: off)
    control_url_file = "/run/labctl-sim/control.url"  # optional: where its URL is written

    [sims.kiln1_tc]
    family = "eurotherm3200"
    unit = 1
    tcp_port = 5020        # or: pty_link = "/run/labctl-sim/kiln1"  (a symlink to the pty)
    flask = "large"        # small | large
    comms_timeout_s = 10   # remote-SP comms-loss fallback, simulated seconds

    [casters.caster1]      # a whole simulated caster (labctl/sim/site.py shows its site file)
    kind = "vacuum"        # or "centrifugal"
    pty_dir = "/run/labctl-sim/caster1"   # ptys "tc" and "gauge" are linked here
    crucible_tcp_port = 5030
    io_tcp_port = 5031
    drive_tcp_port = 5032  # centrifugal only
    solidus_c = 880
    liquidus_c = 930
    start_temp_c = 20      # the crucible and its charge at start

What a person or a fault does to the rig (place the flask, press the e-stop, break a
thermocouple, ...) goes through the control API of :mod:`labctl.sim.control`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.config.base import Strict, field_name, read_toml, validate
from labctl.errors import ConfigError
from labctl.sim.control import ControlApiError, serving_control
from labctl.sim.devices import RigDevice, caster_devices, kiln_device

log = logging.getLogger(__name__)

_NAME = re.compile(r"[A-Za-z0-9_-]+")


class SimSpec(Strict):
    """One simulated device."""

    family: Literal["eurotherm3200"]
    unit: int = Field(default=1, ge=1, le=247)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    pty_link: Path | None = None
    flask: Literal["small", "large"] = "large"
    comms_timeout_s: float = Field(default=10.0, gt=0)
    start_temp_c: float = Field(default=20.0, ge=-20, le=1200)


class CasterSimSpec(Strict):
    """One simulated caster and where its devices listen."""

    kind: Literal["vacuum", "centrifugal"]
    pty_dir: Path
    crucible_tcp_port: int = Field(default=0, ge=0, le=65535)
    io_tcp_port: int = Field(default=0, ge=0, le=65535)
    drive_tcp_port: int = Field(default=0, ge=0, le=65535)
    solidus_c: float = Field(default=880.0, gt=0, le=2000)
    liquidus_c: float = Field(default=930.0, gt=0, le=2000)
    charge_g: float = Field(default=300.0, gt=0, le=5000)
    start_temp_c: float = Field(default=20.0, ge=-20, le=1500)


class RigConfig(Strict):
    """A whole rig file."""

    speed: float = Field(default=1.0, gt=0, le=100_000)
    epoch: float | None = None
    control_port: int | None = Field(default=None, ge=0, le=65535)
    control_url_file: Path | None = None
    sims: dict[str, SimSpec] = {}
    casters: dict[str, CasterSimSpec] = {}

    @model_validator(mode="after")
    def _names(self) -> RigConfig:
        """Names are URL path parts (letters, digits, ``_``, ``-``), each used once."""
        for name in [*self.sims, *self.casters]:
            if not _NAME.fullmatch(name):
                raise ValueError(f"{name!r}: a name takes only letters, digits, _ and -")
        if both := sorted(set(self.sims) & set(self.casters)):
            raise ValueError(f"{', '.join(both)}: named both in [sims] and in [casters]")
        return self


def load_rig(path: Path) -> RigConfig:
    """Parse and validate a rig file; errors name the file, field and problem."""
    data = read_toml(path, ConfigError, "a rig file")
    return validate(RigConfig, data, path, ConfigError, lambda loc: field_name(loc, top=""))


async def run_rig(path: Path) -> int:
    """Serve every simulator of the rig, and its control API if asked, until SIGTERM."""
    try:
        rig = load_rig(path)
    except ConfigError as err:
        log.error("not starting: %s", err)
        return 2
    clock = ScaledClock(rig.speed, epoch=rig.epoch)
    devices: dict[str, RigDevice] = {}
    async with contextlib.AsyncExitStack() as stack:
        for name, spec in rig.sims.items():
            sim = Eurotherm3200Sim(
                SimOptions(
                    flask=spec.flask,
                    comms_timeout_s=spec.comms_timeout_s,
                    start_temp_c=spec.start_temp_c,
                )
            )
            endpoint = await stack.enter_async_context(
                sim.serving(
                    clock=clock, unit=spec.unit, tcp_port=spec.tcp_port, pty_link=spec.pty_link
                )
            )
            devices[name] = kiln_device(sim, endpoint)
            log.info("simulating %s (%s) at %s, speed %gx", name, spec.family, endpoint, rig.speed)
        for name, cast in rig.casters.items():
            caster = CasterRigSim(
                cast.kind,
                solidus_c=cast.solidus_c,
                liquidus_c=cast.liquidus_c,
                charge_g=cast.charge_g,
                start_c=cast.start_temp_c,
            )
            cast.pty_dir.mkdir(parents=True, exist_ok=True)
            ports = (cast.crucible_tcp_port, cast.io_tcp_port, cast.drive_tcp_port)
            ep = await stack.enter_async_context(
                caster.serving(clock=clock, pty_dir=cast.pty_dir, tcp_ports=ports)
            )
            devices |= caster_devices(name, caster, ep)
            log.info("simulating caster %s (%s): %s", name, cast.kind, ep)
        if rig.control_port is not None:
            try:
                await stack.enter_async_context(
                    serving_control(
                        devices, clock, port=rig.control_port, url_file=rig.control_url_file
                    )
                )
            except ControlApiError as err:
                log.error("not starting: %s", err)
                return 2
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        log.info("SIGTERM: stopping the rig")
    return 0
