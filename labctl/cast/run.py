"""The cast in progress: its params and step, who confirmed what, and the series for the ledger.

The caster runner holds one of these from a start until the cast has ended (every device
safe, the outcome stored or kept to store later, the ledger record handed over). What a
person sees of it is :func:`snapshot` (the status JSON, MQTT, the screens).
"""

from __future__ import annotations

import dataclasses

from labctl.cast.device_status import start_problems
from labctl.cast.interlocks import InterlockMemory
from labctl.cast.observation import CasterObservation
from labctl.cast.params import CastParams
from labctl.cast.sequence import CastProgress, waiting_for
from labctl.cast.snapshot import CasterSnapshot
from labctl.cast.summary import CastOrigin, CastSummary, Confirmed, Sample, state_json
from labctl.commands.registry import CommandRefused
from labctl.config.limits import CasterKind
from labctl.runs.state import Outcome


@dataclasses.dataclass
class CastInProgress:
    """One cast from its start until it has ended; ``ending`` while it is being ended."""

    id: int
    params: CastParams
    progress: CastProgress
    origin: CastOrigin
    memory: InterlockMemory = dataclasses.field(default_factory=InterlockMemory)
    confirmations: list[Confirmed] = dataclasses.field(default_factory=list)
    series: list[Sample] = dataclasses.field(default_factory=list)
    ending: bool = False
    started_wall: float | None = None

    def sample(self, obs: CasterObservation, wall: float) -> None:
        self.series.append((wall, obs.crucible_c, obs.crucible_tc_c, obs.chamber_mbar, obs.rpm))

    def refuse_confirm(self, caster: str, step: str, obs: CasterObservation) -> None:
        """CommandRefused unless the cast waits for ``step`` and the flask is in, lid shut."""
        wanted = waiting_for(self.progress, self.params)
        if wanted is None or wanted != step:
            raise CommandRefused(
                f"{caster} is in {self.progress.state} and waits for "
                f"{wanted or 'no confirmation'}, not {step}"
            )
        if not obs.flask_present:
            raise CommandRefused(f"{caster}: no flask detected in the machine")
        if not obs.lid_closed:
            raise CommandRefused(f"{caster}: close the lid/door first")

    def saved_state(self) -> str:
        """What the run store keeps of it at each step (a restart records it from this)."""
        return state_json(self.progress.state.value, self.origin, self.confirmations)

    def summary(self, caster: str, outcome: Outcome) -> CastSummary:
        """The ledger's record of this cast, once it has ended with ``outcome``."""
        return CastSummary(
            self.id, caster, self.params, self.origin, outcome, self.confirmations,
            self.series, started_wall=self.started_wall,
        )  # fmt: skip


def refusals(obs: CasterObservation, silent: list[str], unsafe: str) -> list[str]:
    """Why an idle caster cannot start a cast now (empty: it can).

    ``silent`` are the devices with no fresh reading, ``unsafe`` the ones whose safe state is
    not confirmed; then the e-stop, the lid and what each device's status means before a cast
    (the table in :mod:`labctl.cast.device_status`).
    """
    problems = [f"no reading from {name}" for name in silent]
    if unsafe:
        problems.append(f"safe state not confirmed on {unsafe}")
    if obs.io is not None and not obs.io.estop_ok:
        problems.append("the e-stop is pressed")
    if obs.io is not None and not obs.io.lid_closed:
        problems.append("the lid/door is open")
    # a silent device is already named above
    return problems + [p for p in start_problems(obs) if not p.startswith("no reading from")]


def snapshot(
    *,
    name: str,
    kind: CasterKind,
    obs: CasterObservation,
    cast: CastInProgress | None,
    idle_state: str,
    recovering_id: int | None,
    last_outcome: str | None,
    last_cast_id: int | None,
    safe: bool,
    uncommissioned: tuple[str, ...],
) -> CasterSnapshot:
    """The caster as people see it now: the cast in progress (if any) and the last reading."""
    params = cast.params if cast else None
    return CasterSnapshot(
        caster=name,
        kind=kind.value,
        state=cast.progress.state.value if cast else idle_state,
        cast_id=cast.id if cast else recovering_id,
        alloy=params.alloy if params else None,
        waiting_for=waiting_for(cast.progress, cast.params) if cast else None,
        confirmations=tuple((step, by) for step, by, _ in cast.confirmations) if cast else (),
        pour_c=params.pour_temp_c if params else None,
        target_mbar=params.target_mbar if params else None,
        spin_rpm=params.spin_rpm if params else None,
        crucible_c=obs.crucible_c,
        crucible_tc_c=obs.crucible_tc_c,
        chamber_mbar=obs.chamber_mbar,
        rpm=obs.rpm,
        lid_closed=obs.lid_closed,
        flask_present=obs.flask_present,
        stale=obs.stale,
        drive_fault=obs.drive_fault or None,
        outcome=last_outcome,
        last_cast_id=last_cast_id,
        safe=safe,
        uncommissioned=uncommissioned,
    )
