"""The numbers one cast runs by: the alloy's parameters joined with the caster's limits.

Built once when a cast starts (:func:`cast_params`) and frozen, so a profile edited during a
cast cannot change it. Pure data; the sequence and the interlocks read nothing else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from labctl.config.limits import CasterKind, CasterLimits
from labctl.profiles.alloys import Alloy, PieceClass


@dataclass(frozen=True, slots=True, kw_only=True)
class CastParams:
    """Everything the sequence and the interlocks need for one cast."""

    alloy: str
    piece_class: PieceClass
    limits: CasterLimits
    pour_temp_c: float
    liquidus_c: float
    flask_temp_c: float
    target_mbar: float = 0.0
    evacuate_limit_s: float = 0.0
    vacuum_hold_s: float = 0.0
    spin_rpm: float = 0.0
    spin_up_s: float = 0.0
    spin_hold_s: float = 0.0

    @property
    def kind(self) -> CasterKind:
        return self.limits.kind

    @property
    def crucible_trip_c(self) -> float:
        return min(self.limits.crucible_max_c, self.pour_temp_c + self.limits.overshoot_c)

    @property
    def drive_hz(self) -> float:
        return self.spin_rpm / self.limits.rpm_per_hz


class CastRefused(Exception):
    """The alloy, flask or machine do not fit together; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def cast_params(alloy: Alloy, piece_class: PieceClass, limits: CasterLimits) -> CastParams:
    """Join alloy and caster; CastRefused when they do not fit (wrong crucible, no params)."""
    if alloy.pour_temp_c + limits.pour_band_c > limits.crucible_max_c:
        raise CastRefused(
            f"{alloy.name} pours at {alloy.pour_temp_c:.0f} °C but this caster's crucible is "
            f"limited to {limits.crucible_max_c:.0f} °C"
        )
    if alloy.crucible_max_c < alloy.pour_temp_c + limits.pour_band_c:
        raise CastRefused(f"{alloy.name}: its crucible limit leaves no room for the pour band")
    base = CastParams(
        alloy=alloy.name,
        piece_class=piece_class,
        limits=limits,
        pour_temp_c=alloy.pour_temp_c,
        liquidus_c=alloy.liquidus_c,
        flask_temp_c=alloy.flask.for_class(piece_class),
    )
    if limits.kind is CasterKind.VACUUM:
        if alloy.vacuum is None:
            raise CastRefused(f"{alloy.name} has no vacuum casting parameters")
        return dataclasses.replace(
            base,
            target_mbar=alloy.vacuum.target_mbar,
            evacuate_limit_s=alloy.vacuum.evacuate_limit_s,
            vacuum_hold_s=alloy.vacuum.hold_s,
        )
    if alloy.centrifugal is None:
        raise CastRefused(f"{alloy.name} has no centrifugal casting parameters")
    return dataclasses.replace(
        base,
        spin_rpm=alloy.centrifugal.spin_rpm,
        spin_up_s=alloy.centrifugal.spin_up_s,
        spin_hold_s=alloy.centrifugal.spin_hold_s,
    )
