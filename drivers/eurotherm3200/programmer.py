"""The 3216P setpoint programmer (simulated): 8 ramp/dwell segments, holdback, end type.

Semantics of the 3216P programmer (HA028651 Issue 7; what the pages read do not settle is in
``NOTES.md``):

* T.STAT (address 23) is coded 0 reset / 1 run / 2 hold / 3 end (:class:`TStat`; HA028651
  Issue 7 §15.5 p.81), not the 2400's 1/2/4/8/16 bits.
* Segment *n* (1..8) is dwell / target / ramp rate at 1280/1281/1282 + 3(n - 1) (alab_control's
  3216P address list; an assumption, not in the HA028651 pages read): the program
  ramps to the target at the rate (°C/h; 0 = step) and then dwells (minutes). A segment with
  rate 0, dwell 0 and the previous segment's target is unused and ends the program.
* Run starts with the setpoint servoed to PV, so the first ramp starts from the kiln's
  temperature (burnout schedules are ramp rates, not step changes).
* Holdback band (0 = off) applies to ramps and dwells: the program clock waits while
  |PV - program SP| > band, which is how real burnouts run longer than nominal when the kiln
  cannot keep up.
* End type (address 328, alab_control's list; coding an assumption): 0 off (program ends,
  heat off), 1 dwell (hold the last target indefinitely), 2 go to SP2, 3 reset. For 0-2
  T.STAT becomes END (3).

Pure: no I/O, no clock; :meth:`Programmer.step` is called with PV and ``dt`` in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from drivers.eurotherm3200.registers import SEGMENTS, EndType, TStat

__all__ = ["EndType", "ProgramSegment", "Programmer", "ProgrammerState", "TStat"]


@dataclass(frozen=True, slots=True)
class ProgramSegment:
    """One segment as stored at registers 1280 + 3(n - 1) (dwell), +1 (target), +2 (rate)."""

    target_c: float
    ramp_rate_c_per_h: float  # 0: step to the target
    dwell_min: float


@dataclass(frozen=True, slots=True)
class ProgrammerState:
    """A snapshot of the programmer, as the instrument would report it."""

    tstat: TStat
    segment: int  # 1-based; 0 when reset
    setpoint_c: float  # program (working) setpoint
    ramping: bool  # False: dwelling (or at the end)
    dwell_elapsed_s: float
    held_back: bool  # the program clock waited during the last step


def used_segments(segments: Sequence[ProgramSegment]) -> list[ProgramSegment]:
    """The segments up to (not including) the first unused one, at most 8."""
    used: list[ProgramSegment] = []
    for seg in segments[:SEGMENTS]:
        blank = (seg.ramp_rate_c_per_h, seg.dwell_min) == (0, 0)
        if blank and used and seg.target_c == used[-1].target_c:
            break
        used.append(seg)
    return used


class Programmer:
    """Program state of the instrument: load, run / hold / reset, and step."""

    def __init__(self) -> None:
        self.tstat = TStat.RESET
        self.segment = 0  # 1-based while running, 0 when reset
        self.setpoint_c = 0.0
        self.held_back = False
        self._segments: list[ProgramSegment] = []
        self._holdback_c = 0.0
        self._end = EndType.DWELL
        self._sp2_c: float | None = None
        self._ramping = True
        self._dwelt_s = 0.0

    # ------------------------------------------------------------- program
    def load(
        self,
        segments: Sequence[ProgramSegment],
        *,
        holdback_c: float = 0.0,
        end_type: int = EndType.DWELL,
        sp2_c: float | None = None,
    ) -> None:
        """Store the program (the 8 segment slots, holdback band, end type, SP2)."""
        self._segments = used_segments(segments)
        self._holdback_c = max(holdback_c, 0.0)
        self._end = EndType(end_type) if end_type in {int(e) for e in EndType} else EndType.DWELL
        self._sp2_c = sp2_c
        if self.segment > len(self._segments):  # a shorter program loaded while running
            self.segment = len(self._segments)
            if self.tstat in (TStat.RUN, TStat.HOLD):
                self._finish()

    @property
    def segments(self) -> tuple[ProgramSegment, ...]:
        """The used segments of the loaded program."""
        return tuple(self._segments)

    @property
    def end_type(self) -> EndType:
        return self._end

    @property
    def output_off(self) -> bool:
        """Program ended with end type 0 (off): the caller turns the heat off."""
        return self.tstat is TStat.END and self._end is EndType.OFF

    @property
    def state(self) -> ProgrammerState:
        return ProgrammerState(
            self.tstat,
            self.segment,
            self.setpoint_c,
            self._ramping,
            self._dwelt_s,
            self.held_back,
        )

    # ------------------------------------------------------------ commands
    def run(self, pv_c: float) -> None:
        """RUN: start at segment 1 with the setpoint servoed to PV; from HOLD, resume.

        RUN while already running is ignored; with no program loaded nothing happens.
        """
        if self.tstat is TStat.HOLD:
            self.resume()
        elif self.tstat is not TStat.RUN and self._segments:
            self.tstat, self.segment, self.setpoint_c = TStat.RUN, 1, pv_c
            self._ramping, self._dwelt_s, self.held_back = True, 0.0, False

    def hold(self) -> None:
        """HOLD: freeze the setpoint and the program clock."""
        if self.tstat is TStat.RUN:
            self.tstat = TStat.HOLD

    def resume(self) -> None:
        if self.tstat is TStat.HOLD:
            self.tstat = TStat.RUN

    def reset(self) -> None:
        """RESET: the program stops; the caller goes back to its own setpoint."""
        self.tstat, self.segment, self.held_back = TStat.RESET, 0, False
        self._ramping, self._dwelt_s = True, 0.0

    # ---------------------------------------------------------------- time
    def _waits(self, pv_c: float) -> bool:
        held = self._holdback_c > 0 and abs(pv_c - self.setpoint_c) > self._holdback_c
        self.held_back = self.held_back or held
        return held

    def step(self, pv_c: float, dt_s: float) -> float:
        """Advance the program clock ``dt_s`` seconds at PV ``pv_c``; returns the program SP."""
        dt = max(dt_s, 0.0)
        if self.tstat is TStat.RUN:
            self.held_back = False
        while self.tstat is TStat.RUN:
            seg = self._segments[self.segment - 1]
            if self._ramping:
                gap = seg.target_c - self.setpoint_c
                if seg.ramp_rate_c_per_h <= 0 or gap == 0:
                    self.setpoint_c, self._ramping, self._dwelt_s = seg.target_c, False, 0.0
                    continue
                if self._waits(pv_c) or dt <= 0:
                    break
                rate = seg.ramp_rate_c_per_h / 3600.0
                if abs(gap) <= rate * dt:
                    dt -= abs(gap) / rate
                    self.setpoint_c, self._ramping, self._dwelt_s = seg.target_c, False, 0.0
                    continue
                self.setpoint_c += math.copysign(rate * dt, gap)
                break
            remaining = seg.dwell_min * 60.0 - self._dwelt_s
            if remaining <= 0:
                self._next()
                continue
            if self._waits(pv_c) or dt <= 0:
                break
            if dt < remaining:
                self._dwelt_s += dt
                break
            dt -= remaining
            self._next()
        return self.setpoint_c

    def _next(self) -> None:
        if self.segment < len(self._segments):
            self.segment += 1
            self._ramping, self._dwelt_s = True, 0.0
        else:
            self._finish()

    def _finish(self) -> None:
        if self._end is EndType.RESET:
            self.reset()
            return
        self.tstat, self._ramping = TStat.END, False
        if self._end is EndType.SP2 and self._sp2_c is not None:
            self.setpoint_c = self._sp2_c
