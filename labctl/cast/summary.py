"""What a finished cast hands to the ledger: the flask's origin, what happened, the series.

A cast's params and origin are stored with its run (:func:`params_json`, :func:`state_json`),
so a cast that a daemon restart cut short still gets its record (:func:`interrupted_summary`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

from labctl.cast.params import CastParams
from labctl.config.limits import CasterKind, CasterLimits
from labctl.runs.state import Outcome
from labctl.runs.store import StoredRun

#: One tick of a cast: (wall s, crucible °C, independent TC °C, chamber mbar, arm rpm).
Sample = tuple[float, float | None, float | None, float | None, float | None]
#: One confirmation: (step, by, wall s).
Confirmed = tuple[str, str, float]


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
    confirmations: list[Confirmed] = field(default_factory=list)
    series: list[Sample] = field(default_factory=list)
    started_wall: float | None = None  # when the cast started: its flask's burnout came before


def params_json(params: CastParams) -> str:
    """The run's ``profile_json``: a cast's params, read back by :func:`params_from_json`."""
    return json.dumps(dataclasses.asdict(params), default=str, sort_keys=True)


def params_from_json(text: str) -> CastParams:
    saved = json.loads(text)
    limits = CasterLimits(**{**saved["limits"], "kind": CasterKind(saved["limits"]["kind"])})
    return CastParams(**{**saved, "limits": limits})


def state_json(state: str, origin: CastOrigin, confirmations: list[Confirmed]) -> str:
    """The run's ``state_json``: where the cast is, where its flask came from, who confirmed."""
    saved = {"state": state, "origin": dataclasses.asdict(origin), "confirmations": confirmations}
    return json.dumps(saved)


def interrupted_summary(run: StoredRun, outcome: Outcome) -> CastSummary:
    """The summary of a stored cast that never ended (its series is not in the run store).

    Raises:
        ValueError, TypeError, KeyError: the stored params or state cannot be read back.

    """
    saved = json.loads(run.state_json)
    confirmations = [(str(step), str(by), float(at)) for step, by, at in saved["confirmations"]]
    origin = CastOrigin(**saved["origin"])
    params = params_from_json(run.profile_json)
    return CastSummary(
        run.id, run.kiln, params, origin, outcome, confirmations, started_wall=run.started_wall
    )
