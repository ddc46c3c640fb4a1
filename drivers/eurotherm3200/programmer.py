"""The 3216P setpoint programmer (simulated): 8 ramp/dwell segments, holdback, end type.

T.STAT coding 0 reset / 1 run / 2 hold / 3 end (HA028651, devices.md §A.2). Each segment
ramps to its target at its rate (0 = step) and then dwells. With a holdback band, the
program clock waits while PV is further than the band from the program setpoint. A segment
with rate 0, dwell 0 and the previous target is unused and ends the program; end type 1
(dwell) keeps the last target indefinitely with T.STAT = 3.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.eurotherm3200.registers import EndType, TStat


@dataclass(frozen=True, slots=True)
class ProgramSegment:
    """One segment as stored in registers 1280 + 3(n - 1) ..."""

    target_c: float
    ramp_rate_c_per_h: float  # 0: step
    dwell_min: float


class Programmer:
    """Program state of the instrument."""

    def __init__(self) -> None:
        self.tstat = TStat.RESET
        self.segment = 0  # 1-based while running, 0 when reset
        self.setpoint_c = 0.0
        self._segments: list[ProgramSegment] = []
        self._holdback_c = 0.0
        self._end = EndType.DWELL
        self._ramping = True
        self._dwelt_s = 0.0

    def load(self, segments: list[ProgramSegment], *, holdback_c: float, end_type: int) -> None:
        used: list[ProgramSegment] = []
        for seg in segments:
            previous = used[-1].target_c if used else None
            if (
                used
                and seg.ramp_rate_c_per_h == 0
                and seg.dwell_min == 0
                and (seg.target_c == previous)
            ):
                break
            used.append(seg)
        self._segments, self._holdback_c = used, holdback_c
        self._end = EndType(end_type) if end_type in {int(e) for e in EndType} else EndType.DWELL

    def run(self, pv_c: float) -> None:
        """Start from segment 1 with the setpoint servoed to PV."""
        if not self._segments:
            return
        self.tstat, self.segment, self.setpoint_c = TStat.RUN, 1, pv_c
        self._ramping, self._dwelt_s = True, 0.0

    def hold(self) -> None:
        if self.tstat is TStat.RUN:
            self.tstat = TStat.HOLD

    def resume(self) -> None:
        if self.tstat is TStat.HOLD:
            self.tstat = TStat.RUN

    def reset(self) -> None:
        self.tstat, self.segment = TStat.RESET, 0

    def _held_back(self, pv_c: float) -> bool:
        return self._holdback_c > 0 and abs(pv_c - self.setpoint_c) > self._holdback_c

    def step(self, pv_c: float, dt_s: float) -> float:
        """Advance the program clock ``dt_s`` seconds; returns the program setpoint."""
        while self.tstat is TStat.RUN and dt_s > 0:
            seg = self._segments[self.segment - 1]
            if self._ramping:
                gap = seg.target_c - self.setpoint_c
                if seg.ramp_rate_c_per_h <= 0 or gap == 0:
                    self.setpoint_c, self._ramping = seg.target_c, False
                    continue
                if self._held_back(pv_c):
                    break
                rate = seg.ramp_rate_c_per_h / 3600.0
                if abs(gap) <= rate * dt_s:
                    dt_s -= abs(gap) / rate
                    self.setpoint_c, self._ramping, self._dwelt_s = seg.target_c, False, 0.0
                else:
                    self.setpoint_c += rate * dt_s if gap > 0 else -rate * dt_s
                    dt_s = 0
                continue
            if self._held_back(pv_c):
                break
            remaining = seg.dwell_min * 60.0 - self._dwelt_s
            if dt_s < remaining:
                self._dwelt_s += dt_s
                break
            dt_s -= max(remaining, 0.0)
            self._next()
        return self.setpoint_c

    def _next(self) -> None:
        if self.segment < len(self._segments):
            self.segment += 1
            self._ramping, self._dwelt_s = True, 0.0
        elif self._end is EndType.RESET:
            self.reset()
        else:
            self.tstat = TStat.END
