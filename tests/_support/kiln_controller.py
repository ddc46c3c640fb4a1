"""A fake kiln controller at the capability seam, in virtual time.

:class:`FakeController` runs in programmer mode (its own ramp/dwell programmer with a
holdback band) or stream mode; it can lose its link (``LinkDown``), refuse a programmer hold
or the heat-off with Modbus exception 4 (``DeviceRejected``), report a sensor break, lag its
setpoint (holdback), or raise an unexpected :class:`InjectedBug` from a read (to prove
supervision).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from drivers.capabilities import ControllerReading, DeviceSegment, EndAction, ProgramStatus
from drivers.clock import VirtualClock
from drivers.errors import DeviceRejected, LinkDown
from tests._support.faults import InjectedBug


@dataclass
class FakeController:
    """A kiln controller: a ramp/dwell programmer (or a streamed remote setpoint) and a PV.

    The PV follows the working setpoint at once unless ``stuck`` (a kiln that lags: holdback);
    it never cools by itself. A streamed setpoint is a lease: without a new one for
    ``lease_s`` the comms-loss fallback takes over (heat off); a program runs on regardless.
    The programmer waits while the PV is outside its holdback band, as a Eurotherm 3216P does.
    """

    clock: VirtualClock
    programmer: bool = True  # the kiln's configured mode (programmer readings carry status)
    pv_c: float = 20.0
    link_up: bool = True
    stuck: bool = False
    sensor_break: bool = False
    refuse_hold: bool = False
    refuse_safe: bool = False
    crash_reads: int = 0  # the next reads raise InjectedBug
    crash_hold: bool = False  # a programmer hold raises InjectedBug (a bug in a command)
    remote_sp: float | None = None
    program: ProgramStatus = ProgramStatus.RESET
    segments: list[DeviceSegment] = field(default_factory=list)
    band_c: float = 0.0
    seg: int = 0
    working_sp: float | None = None
    dwell_left_s: float = 0.0
    last: float = 0.0
    holds: int = 0  # programmer holds the device took
    lease_s: float = 10.0  # stream mode: no setpoint for this long, the fallback (0 °C) engages
    streamed_at: float = 0.0
    has_programmer = True

    @property
    def heating(self) -> bool:
        """Whether the controller drives heat (a program or a streamed setpoint is live)."""
        live = (ProgramStatus.RUN, ProgramStatus.HOLD, ProgramStatus.END)
        leased = self.clock.now() - self.streamed_at <= self.lease_s
        return (self.remote_sp is not None and leased) or self.program in live

    def _link(self) -> None:
        if not self.link_up:
            raise LinkDown("k1 controller: no reply (link down)")

    def _step(self) -> None:
        now = self.clock.now()
        dt, self.last = max(0.0, now - self.last), now
        if self.program is ProgramStatus.RUN:
            self._run_program(dt)
        if self.remote_sp is not None and now - self.streamed_at > self.lease_s:
            self.remote_sp = None  # the comms-loss fallback: the host went silent, heat off
        target = self.working_sp if self.program is not ProgramStatus.RESET else self.remote_sp
        if target is not None and not self.stuck:
            self.pv_c = target

    def _run_program(self, dt: float) -> None:
        while dt > 0 and self.program is ProgramStatus.RUN:
            seg = self.segments[self.seg]
            sp = self.working_sp if self.working_sp is not None else self.pv_c
            if self.band_c and abs(self.pv_c - sp) > self.band_c:
                return  # holdback: the program clock waits for the kiln
            if sp != seg.target_c:
                rate = seg.ramp_rate_c_per_h
                if rate is None:
                    self.working_sp = seg.target_c
                    continue
                need = abs(seg.target_c - sp) / rate * 3600.0
                used = min(need, dt)
                move = rate * used / 3600.0
                self.working_sp = sp + move if seg.target_c > sp else sp - move
                if used >= need:
                    self.working_sp = seg.target_c
                dt -= used
                continue
            if self.dwell_left_s > dt:
                self.dwell_left_s -= dt
                return
            dt -= self.dwell_left_s
            if self.seg + 1 >= len(self.segments):
                self.program = ProgramStatus.END  # dwell at the last target (EndAction.DWELL)
                return
            self.seg += 1
            self.dwell_left_s = self.segments[self.seg].dwell_min * 60.0

    async def connect(self) -> None:
        await asyncio.sleep(0)
        self._link()

    async def read(self) -> ControllerReading:
        await asyncio.sleep(0)
        self._link()
        if self.crash_reads > 0:
            self.crash_reads -= 1
            raise InjectedBug("injected bug in the controller driver")
        self._step()
        live = self.program in (ProgramStatus.RUN, ProgramStatus.HOLD)
        return ControllerReading(
            at=self.clock.now(),
            pv_c=None if self.sensor_break else self.pv_c,
            working_sp_c=self.working_sp if self.programmer else self.remote_sp,
            output_pct=50.0,
            sensor_break=self.sensor_break,
            program=self.program if self.programmer else None,
            program_segment=self.seg + 1 if live else None,
        )

    async def safe_state(self) -> None:
        await asyncio.sleep(0)
        self._link()
        if self.refuse_safe:
            raise DeviceRejected("k1 controller: Modbus exception 4 writing heat off", code=4)
        self.program, self.remote_sp, self.working_sp = ProgramStatus.RESET, None, None

    async def arm_stream(self, *, fallback_sp_c: float) -> None:
        self._link()

    async def stream_setpoint(self, setpoint_c: float) -> None:
        await asyncio.sleep(0)
        self._link()
        self._step()
        self.remote_sp, self.streamed_at = setpoint_c, self.clock.now()

    async def reset_program(self) -> None:
        self._link()
        self.program, self.working_sp = ProgramStatus.RESET, None

    async def download_program(
        self, segments: Sequence[DeviceSegment], *, holdback_band_c: float, end: EndAction
    ) -> None:
        self._link()
        assert end is EndAction.DWELL
        self.segments, self.band_c = list(segments), holdback_band_c

    async def run_program(self) -> None:
        self._link()
        self._step()
        self.program, self.seg, self.working_sp = ProgramStatus.RUN, 0, self.pv_c
        self.dwell_left_s = self.segments[0].dwell_min * 60.0

    async def hold_program(self) -> None:
        await asyncio.sleep(0)
        self._link()
        if self.crash_hold:
            raise InjectedBug("injected bug in the controller's hold")
        if self.refuse_hold:
            raise DeviceRejected(
                "k1 controller: Modbus exception 4 (slave device failure) on program HOLD", code=4
            )
        self._step()
        if self.program is ProgramStatus.RUN:
            self.program = ProgramStatus.HOLD
            self.holds += 1

    async def resume_program(self) -> None:
        await asyncio.sleep(0)
        self._link()
        self._step()
        if self.program is ProgramStatus.HOLD:
            self.program = ProgramStatus.RUN
