"""What a test sends the lab and what it gets back.

Each command's payload (:data:`PAYLOADS`, read off the lab's current flask and melt), the
caller's name for each role, :class:`Answer` (done with its result, or refused with the
reason), and the lab's registry (:func:`lab_registry`), built from the register_* functions
labctl.daemon.app uses (:data:`REGISTER_FUNCTIONS`, checked by the tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import labctl.daemon.app
from labctl.alarms import register_alarm_commands
from labctl.cast.commands import register_caster_commands
from labctl.commands.registry import CommandRegistry
from labctl.commands.status import register_status
from labctl.commission.daemon_commands import register_commissioning_commands
from labctl.commission.daemon_side import DaemonCommissioning
from labctl.config.limits import CasterKind
from labctl.config.users import Role
from labctl.kiln.commands import register_kiln_commands
from labctl.ledger.commands import register_ledger_commands
from labctl.web.options import register_start_options
from tests._support.lab_site import (
    ALLOY,
    CASTER,
    KILN,
    NO_LINKS,
    PROFILE,
    matrix_site,
    profiles_dir,
)

if TYPE_CHECKING:
    from tests._support.lab import Lab

#: The register_* functions :func:`lab_registry` calls: labctl.daemon.app's own (tests check).
REGISTER_FUNCTIONS: tuple[Callable[..., None], ...] = (
    register_kiln_commands,
    register_ledger_commands,
    register_caster_commands,
    register_status,
    register_alarm_commands,
    register_start_options,
    register_commissioning_commands,
)
USERS = {role: role.name.lower() for role in Role}  # the caller's name is its role's name


def app_register_functions() -> set[Callable[..., None]]:
    """Every register_* function labctl.daemon.app (the composition root) uses."""
    return {
        f for n, f in vars(labctl.daemon.app).items() if n.startswith("register_") and callable(f)
    }


@dataclass(frozen=True, slots=True)
class Answer:
    """One command's one answer: done (with its result) or refused (with the reason)."""

    done: bool
    text: str  # the reason, or the result as text
    result: Mapping[str, object] | None = None
    wall_s: float = 0.0  # how long the sender waited (real seconds)

    def __str__(self) -> str:
        return f"{'done' if self.done else 'refused'}: {self.text}"


def _confirm_step(lab: Lab) -> str:
    return "flask_placed" if lab.caster_kind is CasterKind.VACUUM else "balance_confirmed"


JOB: dict[str, object] = {
    "job_id": "J-2",
    "customer_order": "O-18",
    "piece_ids": ["J-2-a"],
    "cad_file": {"name": "ring.stl", "sha256": "1" * 64},
    "alloy": ALLOY,
    "piece_class": "medium",
}
PAYLOADS: dict[str, Callable[[Lab], Mapping[str, object]]] = {
    "start": lambda lab: {"kiln": KILN, "profile": PROFILE},
    "hold": lambda lab: {"kiln": KILN},
    "resume": lambda lab: {"kiln": KILN},
    "abort": lambda lab: {"kiln": KILN, "reason": "matrix"},
    "take_flask": lambda lab: {"kiln": KILN},
    "cast_start": lambda lab: {
        "caster": CASTER,
        "kiln": KILN,
        "alloy": ALLOY,
        "piece_class": "medium",
        "flask_id": lab.flask_id,
        "melt_id": lab.melt_id,
    },
    "cast_confirm": lambda lab: {"caster": CASTER, "step": _confirm_step(lab)},
    "cast_abort": lambda lab: {"caster": CASTER, "reason": "matrix"},
    "cast_reset_drive": lambda lab: {"caster": CASTER},
    "status": lambda lab: {},
    "alarms": lambda lab: {},
    "alarm_ack": lambda lab: {"id": 1},
    "start_options": lambda lab: {},
    "ledger_status": lambda lab: {},
    "ledger_consistency": lambda lab: {"size": 1},
    "ledger_record": lambda lab: {"kind": "job-ticket", "record": JOB},
    "ledger_export": lambda lab: {"cast_id": "cast-999"},
    "ledger_rotate": lambda lab: {},
    "commissioning": lambda lab: {},
    "commission": lambda lab: {"device": "k9"},  # no such device: refused in every state
}


def lab_registry(lab: Lab) -> CommandRegistry:
    """A new registry over the lab's machines, store, ledger and alarms, as the daemon's."""
    registry = CommandRegistry()
    runners, casters = {KILN: lab.kiln}, {CASTER: lab.caster}
    profiles = profiles_dir(lab.tmp)
    register_kiln_commands(registry, runners, profiles, lab.store)
    register_ledger_commands(registry, lab.recorder, lab.tmp / "certificates")
    register_caster_commands(registry, casters, lab.kiln_snapshot, profiles, lab.recorder)
    register_status(registry, runners, casters, lab.store, dict, lab.board.texts)
    register_alarm_commands(registry, lab.board)
    register_start_options(registry, profiles, lab.recorder)
    site, machines = matrix_site(lab.kiln_mode, lab.caster_kind), {KILN: lab.kiln}
    commissioning = DaemonCommissioning(
        site,
        machines | {CASTER: lab.caster},
        lab.board,
        lab.recorder.service,
        NO_LINKS,
        lab.clock,
    )
    register_commissioning_commands(registry, commissioning)
    return registry
