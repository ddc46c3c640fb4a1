"""A lumped thermal model of a caster's crucible melting a metal charge.

Two nodes: the crucible (graphite or ceramic, with its heater: resistance coils or the
induction coil's coupling, and the insulation around it) and the metal charge, which takes
heat from the crucible through a contact/radiation conductance. The crucible loses heat to the
room, more as it gets hotter (a linear convection/conduction term plus a T⁴ radiation term).
The thermocouple of a caster sits in the crucible bottom against the charge, so a controller
reads :attr:`CrucibleModel.metal_c`.

The charge is tracked as an enthalpy so the melting range is exact whatever the step: between the
alloy's solidus and liquidus the latent heat of fusion goes in with the sensible heat and the
temperature climbs slowly (the melting plateau; the MC20V operating manual's platinum hints, §3.15,
ask for the cast within 8 s of full melt); the melt fraction rises linearly across the range (a
lever-rule simplification) and falls again when the charge cools (solidification). An alloy with
solidus = liquidus melts at one temperature.

Defaults: a small caster of 3.5 kW (the MC20V's 100 % power for platinum, manual §3.15) melting
300 g of 18K yellow gold (solidus ~900 °C, liquidus ~930 °C: typical, not from a supplier sheet;
specific heat and latent heat are mass-weighted from 75 % Au, 12.5 % Ag, 12.5 % Cu handbook
values). It reaches 930 °C in about 4 minutes from cold at full power and levels off near 1500 °C.

Pure and deterministic: no I/O and no clock; the caller steps it with ``dt`` in seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivers._sim.plant.physics import KELVIN, HeatedModel

__all__ = ["CrucibleModel", "CrucibleParams"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CrucibleParams:
    """Crucible and heater constants; units are in the names (W, J/K, W/K, s, °C)."""

    heater_power_w: float = 3500.0
    crucible_capacity_j_per_k: float = 600.0  # ~0.6 kg graphite plus its holder
    crucible_to_metal_w_per_k: float = 15.0  # charge time constant ~3.5 s at 300 g
    loss_w_per_k: float = 0.5  # convection and conduction through the insulation
    radiation_w_per_k4: float = 2.8e-10  # x (T⁴ - Ta⁴) in kelvin: ~1.2 kW lost at 1000 °C
    ambient_c: float = 20.0
    max_substep_s: float = 0.5  # explicit-Euler substep bound


class CrucibleModel(HeatedModel):
    """Crucible plus charge, stepped with the heater output fraction; stable for any step.

    ``faults`` (``relay_stuck_on``, ``heater_failed``) act like the kiln model's: a welded
    contactor gives full power whatever the output, a burnt-out heater gives none (a stall).
    """

    def __init__(
        self,
        *,
        charge_g: float = 300.0,
        specific_heat_j_per_g_k: float = 0.174,
        latent_heat_j_per_g: float = 87.0,
        solidus_c: float = 900.0,
        liquidus_c: float = 930.0,
        start_c: float | None = None,
        params: CrucibleParams | None = None,
    ) -> None:
        if charge_g <= 0 or specific_heat_j_per_g_k <= 0 or latent_heat_j_per_g < 0:
            raise ValueError("charge mass and specific heat must be > 0, latent heat >= 0")
        if liquidus_c < solidus_c:
            raise ValueError(f"liquidus {liquidus_c} °C is below solidus {solidus_c} °C")
        self.params = p = params or CrucibleParams()
        super().__init__(p.heater_power_w)
        self.solidus_c, self.liquidus_c = solidus_c, liquidus_c
        self._metal_cap = charge_g * specific_heat_j_per_g_k  # J/K
        self._latent_j = charge_g * latent_heat_j_per_g
        t0 = p.ambient_c if start_c is None else start_c
        self._crucible_c = t0
        self._enthalpy_j = self._enthalpy_at(t0)
        hottest_k = self.max_temp_c() + KELVIN
        crucible_g = p.crucible_to_metal_w_per_k + p.loss_w_per_k
        crucible_g += 4 * p.radiation_w_per_k4 * hottest_k**3
        taus = (
            p.crucible_capacity_j_per_k / crucible_g,
            self._metal_cap / p.crucible_to_metal_w_per_k,
        )
        self._substep_s = min(p.max_substep_s, 0.2 * min(taus))

    # ------------------------------------------------------------------ state
    @property
    def metal_c(self) -> float:
        """Charge temperature, °C: what the crucible thermocouple reads."""
        return self._state()[0]

    @property
    def melt_fraction(self) -> float:
        """0 solid, 1 fully molten."""
        return self._state()[1]

    @property
    def crucible_c(self) -> float:
        """Crucible wall temperature, °C."""
        return self._crucible_c

    # ------------------------------------------------------------ enthalpy
    def _enthalpy_at(self, temp_c: float) -> float:
        """Charge enthalpy (J, 0 = solid at 0 °C) at equilibrium at ``temp_c``."""
        span = self.liquidus_c - self.solidus_c
        if temp_c <= self.solidus_c:
            frac = 0.0
        elif temp_c >= self.liquidus_c or span == 0:
            frac = 1.0
        else:
            frac = (temp_c - self.solidus_c) / span
        return self._metal_cap * temp_c + self._latent_j * frac

    def _state(self) -> tuple[float, float]:
        """(temperature °C, melt fraction) of the charge from its enthalpy."""
        h, cap = self._enthalpy_j, self._metal_cap
        start = cap * self.solidus_c  # melting begins
        end = cap * self.liquidus_c + self._latent_j  # fully molten
        if h <= start:
            return h / cap, 0.0
        if h >= end:
            return (h - self._latent_j) / cap, 1.0
        frac = (h - start) / (end - start)
        return self.solidus_c + frac * (self.liquidus_c - self.solidus_c), frac

    # ------------------------------------------------------------- dynamics
    def loss_w(self, crucible_c: float) -> float:
        """Heat lost to the room at a crucible temperature, W."""
        p = self.params
        t, ta = crucible_c + KELVIN, p.ambient_c + KELVIN
        return p.loss_w_per_k * (t - ta) + p.radiation_w_per_k4 * (t**4 - ta**4)

    def max_temp_c(self) -> float:
        """The temperature where full heater power equals the losses (bisection)."""
        low, high = self.params.ambient_c, 5000.0
        for _ in range(60):
            mid = (low + high) / 2
            low, high = (mid, high) if self.loss_w(mid) < self.params.heater_power_w else (low, mid)
        return high

    def step(self, power_fraction: float, dt: float) -> None:
        """Advance ``dt`` seconds with the heater output at ``power_fraction`` (0..1)."""
        if dt <= 0:
            return
        p = self.params
        power = self._power_w = self.heater_power_w(power_fraction)
        n = max(1, math.ceil(dt / self._substep_s))
        h = dt / n
        for _ in range(n):
            to_metal = p.crucible_to_metal_w_per_k * (self._crucible_c - self.metal_c)
            net = power - to_metal - self.loss_w(self._crucible_c)
            self._crucible_c += h * net / p.crucible_capacity_j_per_k
            self._enthalpy_j += h * to_metal
        self._time_s += dt
