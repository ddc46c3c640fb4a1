"""The controller's own PID loop (simulated), in the 3216's terms.

Parameters as the instrument shows them (addresses 6 / 8 / 9 in the Modbus parameter list of
Eurotherm HA028651 *3200 Engineering/User Manual* Issue 7; the page was not recorded): proportional
band ``pb_c`` in °C, integral time ``ti_s`` and derivative time ``td_s`` in seconds (0 = off); the
output is 0-100 % heat. Derivative acts on PV (no kick on setpoint steps or program segment
changes); anti-windup by conditional integration (the integral does not grow while the output is
saturated in the direction the error pushes). Manual mode is the caller's: while it lasts it calls
:meth:`Pid.track` so the return to auto is bumpless.

The defaults are tuned for :class:`~drivers._sim.plant.physics.KilnThermalModel` with a large
flask (PB 10 °C, Ti 300 s, Td 40 s): they track a 150 °C/h ramp (the ramps of profiles/burnout)
within ~1 °C, overshoot a ramp-to-hold corner by ~3 °C and stay stable for control periods from
0.25 s (assumed to be the instrument's own sample rate, 4 Hz: not confirmed in a manual) to 60 s
(an accelerated simulation).
"""

from __future__ import annotations

import math

__all__ = ["Pid"]


class Pid:
    """Position-form PID: ``out = 100/PB · (e + 1/Ti ∫e dt) - 100/PB · Td · dPV/dt``."""

    def __init__(
        self,
        *,
        pb_c: float = 10.0,
        ti_s: float = 300.0,
        td_s: float = 40.0,
        out_lo_pct: float = 0.0,
        out_hi_pct: float = 100.0,
    ) -> None:
        if pb_c <= 0 or ti_s < 0 or td_s < 0 or out_lo_pct >= out_hi_pct:
            raise ValueError("PB must be > 0, Ti/Td >= 0 and the output limits ordered")
        self.pb_c, self.ti_s, self.td_s = pb_c, ti_s, td_s
        self.out_lo_pct, self.out_hi_pct = out_lo_pct, out_hi_pct
        self._integral = 0.0  # integral term, in % output
        self._last_pv: float | None = None
        self.output_pct = 0.0  # last output returned

    def reset(self) -> None:
        """Forget the integral and the PV history (power-up)."""
        self._integral, self._last_pv, self.output_pct = 0.0, None, 0.0

    def _clamp(self, value: float) -> float:
        return min(max(value, self.out_lo_pct), self.out_hi_pct)

    def update(self, sp: float, pv: float, dt_s: float) -> float:
        """One control period of ``dt_s`` seconds; returns the output in %."""
        if math.isnan(sp) or math.isnan(pv):
            return self.output_pct
        kp = 100.0 / self.pb_c
        error = sp - pv
        slope = 0.0
        if self._last_pv is not None and dt_s > 0:
            slope = (pv - self._last_pv) / dt_s
        self._last_pv = pv
        p_term, d_term = kp * error, -kp * self.td_s * slope
        if self.ti_s > 0 and dt_s > 0:
            candidate = self._integral + kp * error * dt_s / self.ti_s
            unclamped = p_term + candidate + d_term
            saturated_high = unclamped > self.out_hi_pct and error > 0
            saturated_low = unclamped < self.out_lo_pct and error < 0
            if not (saturated_high or saturated_low):
                self._integral = self._clamp(candidate)
        self.output_pct = self._clamp(p_term + self._integral + d_term)
        return self.output_pct

    def track(self, output_pct: float) -> None:
        """Manual mode: follow the manual output so the return to auto is bumpless."""
        self._integral = self._clamp(output_pct)
        self.output_pct = self._integral
        self._last_pv = None
