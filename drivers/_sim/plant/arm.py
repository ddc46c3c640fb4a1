"""A centrifugal casting arm on an induction motor fed by a VFD.

The motor's torque follows the linear part of the induction-motor curve: proportional to the
slip between the synchronous speed (``f · 120 / poles``) and the rotor speed, rated torque at
rated slip, capped at the breakdown torque. Bearing friction (constant) and the arm's air drag
(∝ rpm²) oppose the motion, so the arm settles a little below synchronous speed (the slip)
and, with the drive's output off, coasts down to rest. The arm turns one way only: rpm ≥ 0.

The defaults describe a 4-pole 0.37 kW motor (1500 rpm synchronous at 50 Hz, 1400 rpm rated)
turning a balanced arm directly; about 29 rpm per Hz at casting speeds, and a coast-down of
about forty seconds from 580 rpm. Pure: no I/O, no clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ArmModel", "ArmParams"]

RAD_S_PER_RPM = 2.0 * math.pi / 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ArmParams:
    """Model constants; units are in the names."""

    poles: int = 4
    inertia_kg_m2: float = 0.2  # arm, counterweight, crucible and flask at the shaft
    rated_torque_nm: float = 2.5  # 0.37 kW at 1400 rpm
    rated_slip_rpm: float = 100.0
    breakdown_torque_nm: float = 6.0
    friction_nm: float = 0.2
    drag_nm_per_rpm2: float = 1.4e-6  # 0.5 N·m of air drag at 600 rpm
    max_substep_s: float = 0.01

    def sync_rpm(self, frequency_hz: float) -> float:
        """Synchronous speed of the motor at an output frequency."""
        return frequency_hz * 120.0 / self.poles


class ArmModel:
    """The arm's speed, stepped with the drive's output frequency (None: output off)."""

    def __init__(self, params: ArmParams | None = None) -> None:
        self.params = params or ArmParams()
        self._rpm = 0.0
        self._torque = 0.0

    @property
    def rpm(self) -> float:
        return self._rpm

    @property
    def motor_torque_nm(self) -> float:
        """Motor torque over the last substep (negative while the drive brakes the arm)."""
        return self._torque

    def motor_torque(self, output_hz: float | None, rpm: float) -> float:
        """Torque the motor makes at ``rpm`` on ``output_hz`` (0 with the output off)."""
        if output_hz is None:
            return 0.0
        p = self.params
        slip = self.params.sync_rpm(output_hz) - rpm
        torque = p.rated_torque_nm * slip / p.rated_slip_rpm
        return min(max(torque, -p.breakdown_torque_nm), p.breakdown_torque_nm)

    def step(self, dt: float, *, output_hz: float | None) -> None:
        """Advance ``dt`` seconds; ``output_hz`` None means the drive's output is off (coast)."""
        if dt <= 0:
            return
        p = self.params
        n = max(1, math.ceil(dt / p.max_substep_s))
        h = dt / n
        rpm, torque = self._rpm, 0.0
        for _ in range(n):
            torque = self.motor_torque(output_hz, rpm)
            resist = p.friction_nm + p.drag_nm_per_rpm2 * rpm * rpm
            if rpm <= 0.0 and torque <= p.friction_nm:
                rpm = 0.0  # static friction holds the arm
                continue
            accel_rpm_s = (torque - resist) / p.inertia_kg_m2 / RAD_S_PER_RPM
            rpm = max(0.0, rpm + h * accel_rpm_s)
        self._rpm, self._torque = rpm, torque
