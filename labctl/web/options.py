"""``start_options``: what a technician can choose when starting a burnout or a cast.

Burnout profiles and alloys come from the profile library; flasks and melts from the ledger
(recorded, and not yet cast), so a flask's jobs settle its alloy and piece class, and the
kiln's casting temperature follows from them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.errors import ProfileError
from labctl.ledger.recorder import CastRecorder
from labctl.profiles.alloys import load_alloy
from labctl.profiles.loader import load_burnout
from labctl.profiles.segments import describe

log = logging.getLogger(__name__)

RECENT = 50  # flasks and melts offered, newest first


def library(profiles_dir: Path) -> dict[str, list[dict[str, object]]]:
    """Every usable burnout profile and alloy (an unusable file is logged and left out)."""
    profiles: list[dict[str, object]] = []
    alloys: list[dict[str, object]] = []
    for path in sorted((profiles_dir / "burnout").glob("*.toml")):
        try:
            schedule = load_burnout(path)
        except ProfileError as err:
            log.warning("start options: %s", err)
            continue
        segments = [describe(seg) for seg in schedule.segments]
        profiles.append({"name": schedule.name, "title": schedule.name, "segments": segments})
    for path in sorted((profiles_dir / "alloys").glob("*.toml")):
        try:
            alloy = load_alloy(path)
        except ProfileError as err:
            log.warning("start options: %s", err)
            continue
        methods = [m for m in ("vacuum", "centrifugal") if getattr(alloy, m) is not None]
        alloys.append(
            {
                "name": alloy.name,
                "title": alloy.description,
                "flask_c": {c: alloy.flask.for_class(c) for c in ("thin", "medium", "heavy")},
                "burnout_profiles": list(alloy.burnout_profiles),
                "methods": methods,
            }
        )
    return {"profiles": profiles, "alloys": alloys}


async def ledger_choices(recorder: CastRecorder) -> dict[str, list[dict[str, object]]]:
    """Recorded flasks and melts that no cast record has used yet."""
    service = recorder.service
    casts = [await recorder.predicate(e.leaf) for e in await service.latest("cast-record", 500)]
    used_flasks = {c["flask_id"] for c in casts}
    used_melts = {c["melt_id"] for c in casts}
    flasks: list[dict[str, object]] = []
    for entry in await service.latest("tree-flask", RECENT):
        if entry.subject in used_flasks:
            continue
        flask = await recorder.predicate(entry.leaf)
        jobs = [await _job(recorder, str(j)) for j in flask["job_ids"]]
        alloys = {j.get("alloy") for j in jobs}
        classes = {j.get("piece_class") for j in jobs}
        flasks.append(
            {
                "flask_id": entry.subject,
                "job_ids": list(flask["job_ids"]),
                "alloy": alloys.pop() if len(alloys) == 1 else None,  # None: not one alloy
                "piece_class": classes.pop() if len(classes) == 1 else None,
            }
        )
    melts = [
        {"melt_id": e.subject, "alloy": (await recorder.predicate(e.leaf))["alloy"]}
        for e in await service.latest("melt", RECENT)
        if e.subject not in used_melts
    ]
    return {"flasks": flasks, "melts": melts}


async def _job(recorder: CastRecorder, job_id: str) -> dict[str, Any]:
    entry = await recorder.service.find("job-ticket", job_id)
    return {} if entry is None else await recorder.predicate(entry.leaf)


def register_start_options(
    registry: CommandRegistry, profiles_dir: Path, recorder: CastRecorder | None
) -> None:
    """Register ``start_options`` (observer: it changes nothing)."""

    async def options(_: Payload, __: Caller) -> Mapping[str, object]:
        found: dict[str, object] = dict(await asyncio.to_thread(library, profiles_dir))
        if recorder is not None:
            found.update(await ledger_choices(recorder))
        else:
            found.update({"flasks": [], "melts": []})
        return found

    registry.register("start_options", Payload, Role.OBSERVER, options, "what a start can use")
