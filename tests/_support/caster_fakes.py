"""Fake caster devices at the capability seam (one plant they share), a rig that runs a
CasterRunner on them in virtual time, and the steps the caster tests take."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pytest

from drivers.capabilities import (
    CasterInputs,
    CasterOutputs,
    ControllerReading,
    DeviceSegment,
    DriveReading,
    EndAction,
    PressureReading,
    ThermocoupleReading,
)
from drivers.clock import VirtualClock
from drivers.errors import LinkDown
from labctl.cast.devices import CasterDevices
from labctl.cast.params import cast_params
from labctl.cast.runner import CasterRunner, Recorder
from labctl.cast.summary import CastOrigin
from labctl.config.limits import CasterKind, CasterLimits
from labctl.profiles.alloys import load_alloy
from labctl.runs.store import RunStore

ALLOYS = Path(__file__).resolve().parents[2] / "profiles" / "alloys"


@dataclasses.dataclass
class Plant:
    """A caster's physics, crude but causal: what the fakes below read and drive."""

    clock: VirtualClock
    crucible_c: float = 20.0
    sp_c: float | None = None
    mbar: float = 1013.0
    rpm: float = 0.0
    drive_hz: float = 0.0
    drive_fault: int = 0  # latched by the drive (e.g. 58: comms loss while the host was away)
    outputs: CasterOutputs = dataclasses.field(default_factory=CasterOutputs)
    lid_closed: bool = True
    flask_present: bool = False
    estop_ok: bool = True
    pump_broken: bool = False
    leak: bool = False
    dead: set[str] = dataclasses.field(default_factory=set)
    last: float = 0.0
    eeprom_writes: int = 0

    def step(self) -> None:
        dt, self.last = self.clock.now() - self.last, self.clock.now()
        if self.sp_c is not None:
            self.crucible_c += max(-50 * dt, min(50 * dt, self.sp_c - self.crucible_c))
        pumping = self.outputs.pump and not self.pump_broken and self.outputs.chamber_valve
        if self.outputs.vent_valve or self.leak:
            self.mbar = min(1013.0, self.mbar + 200 * dt)
        elif pumping:
            self.mbar = max(5.0, self.mbar * 0.8**dt)
        target_rpm = self.drive_hz * 29
        self.rpm += max(-100 * dt, min(200 * dt, target_rpm - self.rpm))

    def check(self, role: str) -> None:
        self.step()
        if role in self.dead:
            raise LinkDown(f"{role}: no reply")


class Crucible:
    has_programmer = False

    def __init__(self, plant: Plant) -> None:
        self.p = plant

    async def connect(self) -> None:
        self.p.check("crucible")

    async def read(self) -> ControllerReading:
        self.p.check("crucible")
        return ControllerReading(
            at=self.p.clock.now(), pv_c=self.p.crucible_c, working_sp_c=self.p.sp_c, output_pct=0
        )

    async def safe_state(self) -> None:
        self.p.check("crucible")
        self.p.sp_c = None

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        self.p.check("crucible")

    async def stream_setpoint(self, setpoint_c: float) -> None:
        self.p.check("crucible")
        self.p.sp_c = setpoint_c

    async def reset_program(self) -> None:
        raise AssertionError("no programmer")

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        raise AssertionError("no programmer")

    async def run_program(self) -> None:
        raise AssertionError("no programmer")

    async def hold_program(self) -> None:
        raise AssertionError("no programmer")

    async def resume_program(self) -> None:
        raise AssertionError("no programmer")


class Io:
    def __init__(self, plant: Plant) -> None:
        self.p = plant

    async def connect(self) -> None:
        self.p.check("io")

    async def read(self) -> CasterInputs:
        self.p.check("io")
        p = self.p
        running = p.outputs.pump and not p.pump_broken
        return CasterInputs(
            at=p.clock.now(),
            lid_closed=p.lid_closed,
            flask_present=p.flask_present,
            estop_ok=p.estop_ok,
            pump_running=running,
            outputs=p.outputs,
            arm_stopped=p.rpm < 1,
        )

    async def set_outputs(self, outputs: CasterOutputs) -> None:
        self.p.check("io")
        self.p.outputs = outputs

    async def safe_state(self) -> None:
        await self.set_outputs(CasterOutputs())


class Gauge:
    def __init__(self, plant: Plant) -> None:
        self.p = plant

    async def connect(self) -> None:
        self.p.check("gauge")

    async def read(self) -> PressureReading:
        self.p.check("gauge")
        return PressureReading(at=self.p.clock.now(), mbar=self.p.mbar, status="ok")


class Tc:
    def __init__(self, plant: Plant) -> None:
        self.p = plant

    async def connect(self) -> None:
        self.p.check("crucible_tc")

    async def read(self) -> ThermocoupleReading:
        self.p.check("crucible_tc")
        return ThermocoupleReading(at=self.p.clock.now(), temp_c=self.p.crucible_c + 3)


class Drive:
    def __init__(self, plant: Plant) -> None:
        self.p = plant

    async def connect(self) -> None:
        self.p.check("drive")

    async def read(self) -> DriveReading:
        self.p.check("drive")
        p = self.p
        return DriveReading(
            at=p.clock.now(),
            output_hz=p.drive_hz,
            rpm=p.rpm,
            running=p.drive_hz > 0,
            fault_code=p.drive_fault,
        )

    async def run(self, frequency_hz: float) -> None:
        self.p.check("drive")
        self.p.drive_hz = frequency_hz

    async def safe_state(self) -> None:
        self.p.check("drive")
        self.p.drive_hz = 0.0

    async def reset_fault(self) -> None:
        self.p.check("drive")
        self.p.drive_fault = 0


@dataclasses.dataclass
class Rig:
    plant: Plant
    runner: CasterRunner
    store: RunStore
    clock: VirtualClock
    tasks: list[asyncio.Task[None]]

    async def restart(self, recorder: Recorder) -> None:
        """The daemon dies mid-cast (devices left as they are) and a new one starts."""
        self.tasks[0].cancel()
        await asyncio.gather(self.tasks[0], return_exceptions=True)
        old = self.runner
        self.runner = CasterRunner(
            name=old.name, limits=old.limits, devices=old._devices, clock=self.clock,
            store=self.store, tick_s=1.0, recorder=recorder,
        )  # fmt: skip
        self.tasks[0] = asyncio.create_task(self.runner.run())
        await self.until(lambda: self.runner.ticks > 2)

    async def until(self, pred, *, limit_s: float = 7200.0) -> None:
        deadline = self.clock.now() + limit_s
        while not pred():
            assert self.clock.now() < deadline, self.runner.snapshot
            await asyncio.sleep(0)

    def state(self) -> str:
        return self.runner.snapshot.state


@pytest.fixture
async def make_rig(tmp_path):
    made: list[Rig] = []

    async def make(kind: CasterKind) -> Rig:
        clock = VirtualClock()
        plant = Plant(clock)
        store = await RunStore.open(tmp_path / "runs.sqlite")
        names = {"crucible": "crucible1", "io": "io1", "crucible_tc": "tc1"}
        vacuum = kind is CasterKind.VACUUM
        names["gauge" if vacuum else "drive"] = "gauge1" if vacuum else "vfd1"
        devices = CasterDevices(
            names=names,
            crucible=Crucible(plant),
            io=Io(plant),
            crucible_tc=Tc(plant),
            gauge=Gauge(plant) if vacuum else None,
            drive=None if vacuum else Drive(plant),
        )
        limits = CasterLimits(kind=kind, crucible_max_c=1450, confirm_timeout_s=120)
        runner = CasterRunner(
            name="c1", limits=limits, devices=devices, clock=clock, store=store, tick_s=1.0
        )
        tasks = [asyncio.create_task(runner.run()), asyncio.create_task(clock.autojump())]
        rig = Rig(plant, runner, store, clock, tasks)
        made.append(rig)
        await rig.until(lambda: runner.ticks > 2)
        return rig

    yield make
    for rig in made:
        for task in rig.tasks:
            task.cancel()
        await asyncio.gather(*rig.tasks, return_exceptions=True)
        await rig.store.close()


def params(rig: Rig, alloy: str = "gold-18k-yellow"):
    return cast_params(load_alloy(ALLOYS / f"{alloy}.toml"), "medium", rig.runner.limits)


async def start(rig: Rig, alloy: str = "gold-18k-yellow") -> None:
    origin = CastOrigin(kiln="kiln1", flask_c=566.0, flask_id="F-1", melt_id="M-1")
    await rig.runner.submit(lambda: rig.runner.start(params(rig, alloy), "tech1", origin))


async def confirm(rig: Rig, step: str) -> dict[str, object]:
    return await rig.runner.submit(lambda: rig.runner.confirm(step, "tech1"))


async def outcome(rig: Rig) -> str:
    (run,) = await rig.store.history(limit=1)
    return str(run.outcome)
