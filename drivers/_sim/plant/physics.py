"""A lumped thermal model of a small electric burnout kiln holding one invested flask.

Three nodes (investment "is a good insulator, that's why the heat takes time to reach the core of
the flask": MC20V operating manual §3.19 "Burnout cycles of flasks", p. 30):
the heating element, the chamber (air and hot face, where the controller's thermocouple
sits) and the flask core. Power flows element -> chamber -> flask core, and the chamber loses
heat to the room through the walls (linear conduction plus a radiation-like T⁴ term).

The defaults describe a ~3.6 kW kiln that ramps ~8-9 °C/min from cold, still manages
~215 °C/h at 750 °C (so the 150 °C/h ramps of profiles/burnout are achievable, and faster
programs fall behind, as a Ganoksin Orchid user reports of an 8 h Kerr program that took 9+ h:
orchid.ganoksin.com/t/burn-out-time-in-olympic-kiln/35651) and levels off near 1080 °C at full
power. The flask core lags the chamber with a time constant of ~45 min for a 4"x8" flask and
~20 min for a 2½" flask: labctl's model choice, no source gives one (the published cycles only
scale with flask size: R&R Americast and Kerr run 5-6 h for 2½" flasks, 12 h for 4"x8").

Pure and deterministic: no I/O and no clock; the caller steps it with ``dt`` in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = ["KELVIN", "FlaskSize", "HeatedModel", "KilnFaults", "KilnParams", "KilnThermalModel"]

KELVIN = 273.15
FlaskSize = Literal["small", "large", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class KilnParams:
    """Model constants; units are in the names (W, J/K, W/K, s, °C)."""

    heater_power_w: float = 3600.0  # P_max, 230 V x ~16 A
    element_capacity_j_per_k: float = 3000.0  # coils and the refractory they sit in
    chamber_capacity_j_per_k: float = 20000.0  # hot face, shelf, air
    element_to_chamber_w_per_k: float = 60.0  # element time constant ~50 s
    wall_loss_w_per_k: float = 2.2  # conduction through the walls
    wall_radiation_w_per_k4: float = 3.45e-10  # radiation-like loss, x (T⁴ - Ta⁴) in kelvin
    ambient_c: float = 20.0
    # A 4"x8" flask holds ~2.5 kg of investment plus the steel can; a 2½"x2½" one ~0.6 kg.
    large_flask_capacity_j_per_k: float = 3000.0
    large_flask_time_constant_s: float = 2700.0  # 45 min
    small_flask_capacity_j_per_k: float = 600.0
    small_flask_time_constant_s: float = 1200.0  # 20 min
    max_substep_s: float = 2.0  # explicit-Euler substep bound

    def flask(self, size: FlaskSize) -> tuple[float, float]:
        """(heat capacity J/K, chamber-to-core conductance W/K) of a flask; zeros for none."""
        if size == "large":
            cap, tau = self.large_flask_capacity_j_per_k, self.large_flask_time_constant_s
        elif size == "small":
            cap, tau = self.small_flask_capacity_j_per_k, self.small_flask_time_constant_s
        else:
            return 0.0, 0.0
        return cap, cap / tau


@dataclass(slots=True)
class KilnFaults:
    """Physical faults a test may inject (the controller cannot see them directly)."""

    relay_stuck_on: bool = False  # welded contactor / shorted SSR: full power whatever the output
    heater_failed: bool = False  # burnt-out element or blown fuse: no power at all (a stall)


class HeatedModel:
    """What the thermal models share: a heater with its faults, the power applied, the time."""

    def __init__(self, heater_power_w: float) -> None:
        self.faults = KilnFaults()
        self._rated_w = heater_power_w
        self._power_w = 0.0
        self._time_s = 0.0

    @property
    def power_w(self) -> float:
        """Heater power applied during the last step, W."""
        return self._power_w

    @property
    def time_s(self) -> float:
        """Simulated seconds since construction."""
        return self._time_s

    # ------------------------------------------------------ fault shortcuts
    @property
    def relay_stuck_on(self) -> bool:
        return self.faults.relay_stuck_on

    @relay_stuck_on.setter
    def relay_stuck_on(self, value: bool) -> None:
        self.faults.relay_stuck_on = value

    @property
    def heater_failed(self) -> bool:
        return self.faults.heater_failed

    @heater_failed.setter
    def heater_failed(self, value: bool) -> None:
        self.faults.heater_failed = value

    def heater_power_w(self, output_frac: float) -> float:
        """Heater power for a controller output fraction, faults applied."""
        if self.faults.heater_failed:
            return 0.0
        if self.faults.relay_stuck_on:
            return self._rated_w
        frac = 0.0 if math.isnan(output_frac) else min(max(output_frac, 0.0), 1.0)
        return self._rated_w * frac


class KilnThermalModel(HeatedModel):
    """Stepped with the heater output fraction and a time step; stable for any step.

    ``step`` integrates with explicit Euler in substeps no longer than ``max_substep_s`` and
    a fifth of the fastest node time constant, so one call with ``dt_s = 120`` gives the same
    result as 120 calls with ``dt_s = 1``.
    """

    def __init__(
        self,
        *,
        flask: FlaskSize = "large",
        start_c: float | None = None,
        params: KilnParams | None = None,
    ) -> None:
        self.params = p = params or KilnParams()
        super().__init__(p.heater_power_w)
        self.flask = flask
        self._flask_cap, self._flask_g = p.flask(flask)
        t0 = p.ambient_c if start_c is None else start_c
        self._element_c = self._chamber_c = self._core_c = t0
        taus = [
            p.element_capacity_j_per_k / p.element_to_chamber_w_per_k,
            p.chamber_capacity_j_per_k / (p.element_to_chamber_w_per_k + self._flask_g),
        ]
        if self._flask_g > 0:
            taus.append(self._flask_cap / self._flask_g)
        self._substep_s = min(p.max_substep_s, 0.2 * min(taus))

    # ------------------------------------------------------------------ state
    @property
    def element_c(self) -> float:
        """Heating-element temperature, °C."""
        return self._element_c

    @property
    def chamber_c(self) -> float:
        """Chamber temperature, °C: what the controller's thermocouple measures."""
        return self._chamber_c

    @property
    def flask_core_c(self) -> float:
        """Flask-core temperature, °C (the chamber temperature when there is no flask)."""
        return self._core_c if self._flask_g > 0 else self._chamber_c

    # ------------------------------------------------------------- dynamics
    def wall_loss_w(self, chamber_c: float) -> float:
        """Heat lost to the room at a chamber temperature, W."""
        p = self.params
        t, ta = chamber_c + KELVIN, p.ambient_c + KELVIN
        return p.wall_loss_w_per_k * (t - ta) + p.wall_radiation_w_per_k4 * (t**4 - ta**4)

    def step(self, output_frac: float, dt_s: float) -> None:
        """Advance ``dt_s`` seconds with the heater output at ``output_frac`` (0..1)."""
        if dt_s <= 0:
            return
        p = self.params
        power = self._power_w = self.heater_power_w(output_frac)
        n = max(1, math.ceil(dt_s / self._substep_s))
        h = dt_s / n
        el, ch, core = self._element_c, self._chamber_c, self._core_c
        for _ in range(n):
            to_chamber = p.element_to_chamber_w_per_k * (el - ch)
            to_flask = self._flask_g * (ch - core)
            el += h * (power - to_chamber) / p.element_capacity_j_per_k
            ch += h * (to_chamber - to_flask - self.wall_loss_w(ch)) / p.chamber_capacity_j_per_k
            if self._flask_g > 0:
                core += h * to_flask / self._flask_cap
        self._element_c, self._chamber_c, self._core_c = el, ch, core
        self._time_s += dt_s
