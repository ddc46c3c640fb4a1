"""A kiln's flask-core thermocouple: read beside control, never holding it up or steering it.

The kiln runner runs against fakes at the capability seam (a controller whose PV follows the
streamed setpoint, and a probe that answers, hangs or fails on command) in virtual time that
moves one tick at a time, so each tick happens at exactly its deadline and the program's
setpoints can be compared run for run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from drivers.capabilities import ControllerReading, DeviceSegment, EndAction, ThermocoupleReading
from drivers.clock import VirtualClock
from drivers.errors import LinkDown
from labctl.alarms import AlarmBoard
from labctl.config.kiln import InterlockSection
from labctl.kiln import flask_probe
from labctl.kiln.runner import KilnRunner
from labctl.kiln.settings import RunSettings
from labctl.kiln.snapshot import KilnSnapshot
from labctl.profiles.loader import load_burnout, schedule_to_json
from labctl.runs.store import RunStore
from labctl.web.view import LabView

TICK_S = 60.0
WALL_GUARD_S = 10.0  # a tick that waited on a hung probe would never come
SCHEDULE = Path(__file__).resolve().parents[2] / "profiles" / "burnout" / "gypsum-wax-small.toml"
CORE_C = 312.5


@dataclass
class Controller:
    """A stream-mode controller whose PV follows the setpoint it was given."""

    clock: VirtualClock
    pv_c: float = 20.0
    sp_c: float | None = None
    reads: int = 0
    setpoints: list[float] = field(default_factory=list)
    has_programmer = False

    async def connect(self) -> None:
        await asyncio.sleep(0)  # a real read always waits on its bus

    async def read(self) -> ControllerReading:
        await asyncio.sleep(0)
        self.reads += 1
        self.pv_c = self.pv_c if self.sp_c is None else self.sp_c
        return ControllerReading(
            at=self.clock.now(), pv_c=self.pv_c, working_sp_c=self.sp_c, output_pct=50.0
        )

    async def safe_state(self) -> None:
        self.sp_c = None

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        pass

    async def stream_setpoint(self, setpoint_c: float) -> None:
        self.sp_c = setpoint_c
        self.setpoints.append(setpoint_c)

    async def reset_program(self) -> None:
        raise AssertionError("stream mode")

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        raise AssertionError("stream mode")

    async def run_program(self) -> None:
        raise AssertionError("stream mode")

    async def hold_program(self) -> None:
        raise AssertionError("stream mode")

    async def resume_program(self) -> None:
        raise AssertionError("stream mode")


@dataclass
class Probe:
    """An ADAM-4018 channel: answers while ``gate`` is set, hangs while not, or fails."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    failing: bool = False
    connects: int = 0
    reads: int = 0

    async def connect(self) -> None:
        self.connects += 1

    async def read(self) -> ThermocoupleReading:
        self.reads += 1
        if self.failing:
            raise LinkDown("flask probe: no reply")
        await self.gate.wait()
        return ThermocoupleReading(at=0.0, temp_c=CORE_C)


@dataclass
class Kiln:
    runner: KilnRunner
    controller: Controller
    clock: VirtualClock
    store: RunStore
    published: list[KilnSnapshot]

    def core_c(self) -> float | None:
        """The flask core the kiln's snapshot shows now."""
        return self.runner.snapshot.flask_core_c

    async def tick(self, n: int = 1) -> None:
        """Let ``n`` control ticks happen, each exactly at its deadline."""
        target = self.runner.ticks + n
        async with asyncio.timeout(WALL_GUARD_S):
            while self.runner.ticks < target:
                if not self.clock.jump_to_next():
                    await asyncio.sleep(0.001)  # the tick is at work (run store threads)

    async def start_burnout(self) -> None:
        schedule = load_burnout(SCHEDULE)
        started = asyncio.create_task(
            self.runner.submit(
                lambda: self.runner.start(schedule, schedule_to_json(schedule), "test")
            )
        )
        await self.tick()
        assert (await started)["mode"] == "stream"


@asynccontextmanager
async def kiln(tmp_path: Path, probe: Probe | None) -> AsyncIterator[Kiln]:
    clock = VirtualClock()
    store = await RunStore.open(tmp_path / f"runs-{probe is None}.sqlite")
    controller = Controller(clock)
    published: list[KilnSnapshot] = []
    settings = RunSettings(
        kiln="k1", mode="stream", tick_s=TICK_S, max_temp_c=800.0, fallback_sp_c=0.0,
        interlocks=InterlockSection().limits(800.0), resume_max_gap_s=1200.0,
        resume_max_drop_c=50.0,
    )  # fmt: skip
    runner = KilnRunner(
        settings=settings, controller=controller, link_health=lambda: "ok", clock=clock,
        store=store, publish=published.append, flask_tc=probe,
    )  # fmt: skip
    task = asyncio.create_task(runner.run())
    try:
        k = Kiln(runner, controller, clock, store, published)
        await k.tick()
        yield k
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await store.close()


async def _burnout_setpoints(tmp_path: Path, probe: Probe | None, ticks: int) -> list[float]:
    async with kiln(tmp_path, probe) as k:
        await k.start_burnout()
        await k.tick(ticks)
        return k.controller.setpoints


async def test_a_hung_probe_neither_holds_up_nor_changes_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(flask_probe, "PROBE_TIMEOUT_S", 3600.0)  # hung for the whole test
    without_probe = await _burnout_setpoints(tmp_path, None, 40)
    probe = Probe()
    async with kiln(tmp_path, probe) as k:
        await k.start_burnout()
        await k.tick(40)
        assert k.controller.setpoints == without_probe  # every tick, the same program
        assert without_probe[-1] > without_probe[0] + 50  # ... which did heat the kiln
        assert probe.reads == 1  # one read in flight, none piled up behind it
        assert [s.flask_core_c for s in k.published] == [None] * len(k.published)
        probe.gate.set()  # the slow probe answers at last: shown from the next tick on
        await k.tick(2)
        assert k.core_c() == CORE_C
        assert k.runner.snapshot.pv_c == k.controller.pv_c


async def test_a_probe_read_past_its_timeout_gives_none_and_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(flask_probe, "PROBE_TIMEOUT_S", 0.01)
    probe = Probe()
    async with kiln(tmp_path, probe) as k:
        await asyncio.sleep(0.1)  # wall time: the first read times out meanwhile
        await k.tick()
        assert k.core_c() is None
        assert "k1: no flask core reading: timeout" in caplog.text
        probe.gate.set()
        await k.tick(2)
        assert k.core_c() == CORE_C
        assert (probe.connects, probe.reads) == (2, 3)  # re-identified, then one read a tick


async def test_a_failing_probe_reads_none_logs_once_and_comes_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    probe.gate.set()
    async with kiln(tmp_path, probe) as k:
        await k.tick()
        assert k.core_c() == CORE_C
        probe.failing = True
        reads = k.controller.reads
        with caplog.at_level(logging.INFO, logger="labctl.kiln.flask_probe"):
            await k.tick(5)
            assert k.controller.reads == reads + 5  # control read the kiln every tick
            assert k.core_c() is None
            assert caplog.text.count("no flask core reading") == 1, caplog.text
            probe.failing = False
            await k.tick()
        assert k.core_c() == CORE_C
        assert "k1: flask core readings again" in caplog.text
        view = LabView("lab", {"k1": k.runner}, {}, AlarmBoard(k.clock.wall), k.store)
        view.add_point(k.runner.snapshot)
        assert view.state()["kilns"]["k1"]["flask_core_c"] == CORE_C  # type: ignore[index]
        assert view.series("k1") == {
            "t": [k.runner.snapshot.wall],
            "sp": [None],
            "pv": [k.controller.pv_c],
            "core": [CORE_C],
        }
