"""Immutable per-tick snapshots of each kiln: what the UI, CLI, telemetry and demo show."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class KilnSnapshot:
    """One kiln at one control tick. Replaced, never mutated."""

    kiln: str
    at: float  # clock seconds
    wall: float  # Unix time in clock seconds
    link: str  # ok / degraded / lost
    state: str  # idle / running / held / final_hold / ended
    run_id: int | None = None
    profile: str | None = None
    mode: str | None = None
    segment: str = ""
    segment_index: int | None = None  # into the schedule's segments
    setpoint_c: float | None = None
    pv_c: float | None = None
    working_sp_c: float | None = None
    output_pct: float | None = None
    flask_core_c: float | None = None  # the flask-core thermocouple, when the kiln has one
    eta_s: float | None = None
    holdback_s: float = 0.0
    outcome: str | None = None  # how the kiln's last run ended
    outcome_run_id: int | None = None  # the run that ``outcome`` belongs to
    safe: bool = True  # False while heat-off could not be confirmed on the device
    uncommissioned: tuple[str, ...] = ()  # devices with no passing commissioning record

    @property
    def commissioned(self) -> bool:
        """Every device of the kiln holds a passing commissioning record for this config."""
        return not self.uncommissioned

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self) | {"commissioned": self.commissioned}
