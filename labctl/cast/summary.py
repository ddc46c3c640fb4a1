"""What a finished cast hands to the ledger: the flask's origin, what happened, the series."""

from __future__ import annotations

from dataclasses import dataclass, field

from labctl.cast.params import CastParams
from labctl.run_state import Outcome

#: One tick of a cast: (wall s, crucible °C, independent TC °C, chamber mbar, arm rpm).
Sample = tuple[float, float | None, float | None, float | None, float | None]


@dataclass(frozen=True, slots=True)
class CastOrigin:
    """Given at the start: the kiln the flask came from, and the ledger ids of flask and melt."""

    kiln: str
    flask_c: float
    burnout_profile: str | None = None
    flask_id: str | None = None
    melt_id: str | None = None


@dataclass(frozen=True, slots=True)
class CastSummary:
    """A cast that has ended (every device already safe)."""

    cast_id: int
    caster: str
    params: CastParams
    origin: CastOrigin
    outcome: Outcome
    confirmations: list[tuple[str, str, float]] = field(default_factory=list)  # step, by, wall
    series: list[Sample] = field(default_factory=list)
