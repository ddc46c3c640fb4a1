"""Program state <-> JSON-able dict, for the run store (exact round trip)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from labctl.kiln.program.engine import Phase, ProgramState


def program_state_to_json(state: ProgramState) -> dict[str, Any]:
    data = asdict(state)
    data["phase"] = str(state.phase)
    return data


def program_state_from_json(data: dict[str, Any]) -> ProgramState:
    return ProgramState(
        segment=int(data["segment"]),
        setpoint_c=float(data["setpoint_c"]),
        soaked_s=float(data["soaked_s"]),
        holdback_s=float(data["holdback_s"]),
        holdback_total_s=float(data["holdback_total_s"]),
        phase=Phase(data["phase"]),
    )
