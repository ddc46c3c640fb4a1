"""A lumped thermal model of a small electric burnout kiln holding one invested flask.

Three nodes (devices.md §G.13: "heat takes time to reach the core"): the heating element,
the chamber (air and hot face, where the thermocouple sits) and the flask core. Power flows
element -> chamber -> flask core, and the chamber loses heat to the room through the walls
(linear conduction plus a radiation-like T⁴ term). Defaults describe a ~3.6 kW kiln that
ramps ~9 °C/min from cold, still manages ~260 °C/h at 730 °C (so the 150 °C/h schedules of
§E.1 are achievable) and levels off near 1100 °C at full power.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

SUBSTEP_S = 2.0
KELVIN = 273.15


@dataclass(frozen=True, slots=True, kw_only=True)
class KilnParams:
    """Heat capacities in J/K, conductances in W/K, power in W, temperatures in °C."""

    power_w: float = 3600.0
    element_capacity_j_per_k: float = 3000.0
    chamber_capacity_j_per_k: float = 20000.0
    element_to_chamber_w_per_k: float = 60.0
    wall_loss_w_per_k: float = 2.2
    radiation_w_per_k4: float = 3.45e-10
    ambient_c: float = 20.0


# Flask heat capacity and coupling: a 4"x8" flask (~2.5 kg of investment and steel, time
# constant ~45 min); a 2.5" flask (~0.6 kg, ~20 min). "none": an empty kiln.
FLASKS: dict[str, tuple[float, float]] = {
    "large": (3000.0, 3000.0 / 2700.0),
    "small": (600.0, 600.0 / 1200.0),
    "none": (1.0, 0.0),
}


class KilnThermalModel:
    """Stepped with the heater output fraction and a time step; stable for any step."""

    def __init__(
        self,
        *,
        flask: Literal["small", "large", "none"] = "large",
        start_c: float = 20.0,
        params: KilnParams | None = None,
    ) -> None:
        self.params = params or KilnParams()
        self._flask_capacity, self._flask_coupling = FLASKS[flask]
        self.element_c = self.chamber_c = self.flask_core_c = start_c
        self.relay_stuck_on = False  # welded contactor: full power whatever the output
        self.heater_failed = False  # burnt-out element: no power at all

    def power_w(self, output_frac: float) -> float:
        if self.heater_failed:
            return 0.0
        frac = 1.0 if self.relay_stuck_on else min(max(output_frac, 0.0), 1.0)
        return self.params.power_w * frac

    def step(self, output_frac: float, dt_s: float) -> None:
        """Advance ``dt_s`` seconds with the heater at ``output_frac`` (0..1)."""
        p = self.params
        power = self.power_w(output_frac)
        n = max(1, math.ceil(dt_s / SUBSTEP_S))
        h = dt_s / n
        for _ in range(n):
            to_chamber = p.element_to_chamber_w_per_k * (self.element_c - self.chamber_c)
            to_flask = self._flask_coupling * (self.chamber_c - self.flask_core_c)
            t, ta = self.chamber_c + KELVIN, p.ambient_c + KELVIN
            loss = p.wall_loss_w_per_k * (t - ta) + p.radiation_w_per_k4 * (t**4 - ta**4)
            self.element_c += h * (power - to_chamber) / p.element_capacity_j_per_k
            self.chamber_c += h * (to_chamber - to_flask - loss) / p.chamber_capacity_j_per_k
            self.flask_core_c += h * to_flask / self._flask_capacity
