"""The controller's own PID loop (simulated): PB in °C, Ti and Td in seconds, output 0-100 %.

Derivative on PV (no kick on setpoint steps) and conditional integration (no windup while
the output is saturated). Defaults suit :class:`~drivers._sim.physics.KilnThermalModel`.
"""

from __future__ import annotations


class Pid:
    """Position-form PID as a 3216 runs it."""

    def __init__(self, *, pb_c: float = 20.0, ti_s: float = 600.0, td_s: float = 60.0) -> None:
        self.pb_c, self.ti_s, self.td_s = pb_c, ti_s, td_s
        self._integral = 0.0  # in % output
        self._last_pv: float | None = None

    def update(self, sp: float, pv: float, dt_s: float) -> float:
        """One control period; returns the output in %."""
        kp = 100.0 / self.pb_c
        error = sp - pv
        slope = 0.0 if self._last_pv is None or dt_s <= 0 else (pv - self._last_pv) / dt_s
        self._last_pv = pv
        p, d = kp * error, -kp * self.td_s * slope
        candidate = self._integral + kp * error * dt_s / self.ti_s
        unclamped = p + candidate + d
        if 0.0 <= unclamped <= 100.0 or (unclamped > 100.0) == (error < 0):
            self._integral = min(max(candidate, -100.0), 100.0)
        return min(max(p + self._integral + d, 0.0), 100.0)

    def track(self, output_pct: float) -> None:
        """Manual mode: follow the manual output so the return to auto is bumpless."""
        self._integral = output_pct
        self._last_pv = None
