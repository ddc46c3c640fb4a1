"""``labctl sim --config rig.toml``: simulated devices for a test rig or the demo.

A rig file names each simulated device and where it listens::

    speed = 600            # simulated seconds per wall second (same as the daemon's clock_speed)
    epoch = 1767225600     # optional: shared clock epoch (the daemon's clock_epoch)

    [sims.kiln1_tc]
    family = "eurotherm3200"
    unit = 1
    tcp_port = 5020        # or: pty_link = "/run/labctl-sim/kiln1"  (a symlink to the pty)
    flask = "large"        # small | large
    comms_timeout_s = 10   # remote-SP comms-loss fallback, simulated seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.errors import ConfigError

log = logging.getLogger(__name__)


class SimSpec(BaseModel):
    """One simulated device."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: Literal["eurotherm3200"]
    unit: int = Field(default=1, ge=1, le=247)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    pty_link: Path | None = None
    flask: Literal["small", "large"] = "large"
    comms_timeout_s: float = Field(default=10.0, gt=0)
    start_temp_c: float = Field(default=20.0, ge=-20, le=1200)


class RigConfig(BaseModel):
    """A whole rig file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speed: float = Field(default=1.0, gt=0, le=100_000)
    epoch: float | None = None
    sims: dict[str, SimSpec]


def load_rig(path: Path) -> RigConfig:
    """Parse and validate a rig file; errors name the file, field and problem."""
    try:
        data = tomllib.loads(path.read_text())
        return RigConfig.model_validate(data)
    except OSError as err:
        raise ConfigError(path, "", f"cannot read: {err.strerror}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(path, "", f"not valid TOML: {err}") from err
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(path, field, first["msg"]) from err


async def run_rig(path: Path) -> int:
    """Serve every simulator of the rig until cancelled."""
    try:
        rig = load_rig(path)
    except ConfigError as err:
        log.error("not starting: %s", err)
        return 2
    clock = ScaledClock(rig.speed, epoch=rig.epoch)
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
            log.info("simulating %s (%s) at %s, speed %gx", name, spec.family, endpoint, rig.speed)
        await asyncio.Event().wait()
    return 0
