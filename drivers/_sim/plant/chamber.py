"""A vacuum-assist casting chamber evacuated through a porous invested flask.

Lumped gas model (pressures in mbar absolute, volumes in litres, flows in mbar·L/s):

* the pump, through the chamber valve, removes ``S · (p - p_ult)``: speed S (21 m³/h, the pump
  Indutherm asks for, GU 500 TechDoku p. 18) falling to nothing at its ultimate pressure
  (≈2 mbar, same page);
* a leak lets in ``Q_leak · (p_atm - p) / p_atm`` (the rig raises ``Q_leak`` for a leak fault);
* the vent valve opens the chamber to the room (a fast rise to 1013 mbar);
* the argon valve back-fills from a regulated supply at atmosphere + 0.5 bar (the GU 500's
  upper melt-chamber pressure, TechDoku p. 18);
* the flask's cavity and pores form a second volume behind the gypsum's conductance, sized so
  the inside of the flask follows the chamber to full vacuum in about 30 s (the MC20V operating
  manual's platinum hints, §3.15).

GU 500 TechDoku: Indutherm's technical documentation of the GU 500 (2022-06-03), read as restated
in the vertical-cloud-lab/byu-vcl repowder reference (§5, §7), not first-hand. The GU 500 is a
granulator sharing the VC casters' furnace and vacuum system; its figures stand in for a caster's.

Every flow pulls a pressure towards a target inside [ultimate, supply]. Each substep moves each
volume exactly (exponentially) towards the weighted mean of its targets, so it never overshoots
and pressures never leave that range, whatever the valves or the step. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ChamberModel", "ChamberParams"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ChamberParams:
    """Model constants; units are in the names."""

    chamber_volume_l: float = 20.0
    pump_speed_m3_per_h: float = 21.0  # GU 500 TechDoku p. 18: pump >= 21 m³/h
    ultimate_mbar: float = 2.0  # GU 500 TechDoku p. 18: final pressure 2 mbar
    atmosphere_mbar: float = 1013.0
    overpressure_mbar: float = 500.0  # GU 500 TechDoku p. 18: melt chamber -1..+0.5 bar
    vent_conductance_l_per_s: float = 20.0  # time constant ~1 s for the chamber
    argon_conductance_l_per_s: float = 4.0  # 4-6 L/min (TechDoku p. 30) scaled to a quick fill
    flask_volume_l: float = 0.4  # pores and cavity of a 4"x8" flask
    flask_time_constant_s: float = 5.0  # gypsum conductance = volume / tau
    leak_mbar_l_per_s: float = 0.0  # a tight chamber; the rig raises it for a leak fault
    max_substep_s: float = 0.1  # chamber/flask coupling step

    @property
    def pump_speed_l_per_s(self) -> float:
        return self.pump_speed_m3_per_h * 1000.0 / 3600.0

    @property
    def argon_supply_mbar(self) -> float:
        return self.atmosphere_mbar + self.overpressure_mbar


class ChamberModel:
    """Chamber and flask pressures, stepped with the valve states and a time step."""

    def __init__(self, params: ChamberParams | None = None, *, flask_present: bool = True) -> None:
        self.params = p = params or ChamberParams()
        self.leak_mbar_l_per_s = p.leak_mbar_l_per_s
        self._chamber = self._flask = p.atmosphere_mbar
        self._flask_present = flask_present
        self._flask_g = p.flask_volume_l / p.flask_time_constant_s

    @property
    def chamber_mbar(self) -> float:
        """Chamber pressure, mbar abs: what the gauge reads."""
        return self._chamber

    @property
    def flask_mbar(self) -> float:
        """Pressure inside the investment (the chamber's when no flask is in)."""
        return self._flask if self._flask_present else self._chamber

    @property
    def flask_present(self) -> bool:
        return self._flask_present

    @flask_present.setter
    def flask_present(self, present: bool) -> None:
        """A flask is put in (its pores start at chamber pressure) or taken out."""
        if present and not self._flask_present:
            self._flask = self._chamber
        self._flask_present = present

    def step(
        self,
        dt: float,
        *,
        pump_on: bool,
        chamber_valve: bool,
        vent_valve: bool,
        argon_valve: bool,
    ) -> None:
        """Advance ``dt`` seconds with the pump and valves as given."""
        if dt <= 0:
            return
        p = self.params
        # (conductance L/s, target mbar) of every path into or out of the chamber
        paths = [(max(self.leak_mbar_l_per_s, 0.0) / p.atmosphere_mbar, p.atmosphere_mbar)]
        if pump_on and chamber_valve:
            paths.append((p.pump_speed_l_per_s, p.ultimate_mbar))
        if vent_valve:
            paths.append((p.vent_conductance_l_per_s, p.atmosphere_mbar))
        if argon_valve:
            paths.append((p.argon_conductance_l_per_s, p.argon_supply_mbar))
        flask_g = self._flask_g if self._flask_present else 0.0
        g_total = sum(g for g, _ in paths) + flask_g
        if g_total <= 0.0:  # sealed and empty: nothing moves
            return
        pull = sum(g * target for g, target in paths)
        n = max(1, math.ceil(dt / p.max_substep_s))
        h = dt / n
        keep_ch = math.exp(-h * g_total / p.chamber_volume_l)
        keep_fl = math.exp(-h * flask_g / p.flask_volume_l)
        ch, fl = self._chamber, self._flask
        for _ in range(n):
            # each volume relaxes exactly towards the conductance-weighted mean of the
            # pressures it is connected to, the other volume held for the substep
            mean = (pull + flask_g * fl) / g_total
            fl = ch + (fl - ch) * keep_fl
            ch = mean + (ch - mean) * keep_ch
        self._chamber, self._flask = ch, fl
