"""The caster's status JSON (the `status` command, MQTT, the websocket) field by field.

Written against the dict the runner built before CasterSnapshot existed: names, order, None
versus an empty list, and the types that go out must not change.
"""

from __future__ import annotations

import json

import pytest

from labctl.config.limits import CasterKind
from tests._support.caster_fakes import Rig, confirm, make_rig, params, start

__all__ = ["make_rig"]  # the fixture, imported for these tests

FIELDS = [
    "caster", "kind", "state", "cast_id", "alloy", "waiting_for", "confirmations", "pour_c",
    "target_mbar", "spin_rpm", "crucible_c", "crucible_tc_c", "chamber_mbar", "rpm",
    "lid_closed", "flask_present", "stale", "drive_fault", "outcome", "last_cast_id", "safe",
    "commissioned", "uncommissioned",
]  # fmt: skip


def status(rig: Rig) -> dict[str, object]:
    return rig.runner.snapshot.as_dict()


def wire(rig: Rig) -> dict[str, object]:
    """The status as it goes out: field order kept, JSON types only."""
    out = status(rig)
    assert list(out) == FIELDS
    decoded: dict[str, object] = json.loads(json.dumps(out))
    assert decoded == out  # nothing that JSON would turn into something else (tuples, enums)
    return out


async def test_an_idle_vacuum_caster(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    out = wire(rig)
    assert out == {
        "caster": "c1", "kind": "vacuum", "state": "idle", "cast_id": None, "alloy": None,
        "waiting_for": None, "confirmations": [], "pour_c": None, "target_mbar": None,
        "spin_rpm": None, "crucible_c": rig.plant.crucible_c,
        "crucible_tc_c": rig.plant.crucible_c + 3, "chamber_mbar": rig.plant.mbar, "rpm": None,
        "lid_closed": True, "flask_present": False, "stale": [], "drive_fault": None,
        "outcome": None, "last_cast_id": None, "safe": True, "commissioned": True,
        "uncommissioned": [],
    }  # fmt: skip


async def test_a_vacuum_cast_waiting_then_confirmed(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig)
    await rig.until(lambda: status(rig)["state"] == "flask_transfer")
    rig.plant.flask_present = True
    await rig.until(lambda: status(rig)["flask_present"] is True)
    out = wire(rig)
    (run,) = await rig.store.history(limit=1)
    cast = params(rig)
    assert out["cast_id"] == run.id and out["alloy"] == cast.alloy
    assert out["waiting_for"] == "flask_placed" and out["confirmations"] == []
    assert (out["pour_c"], out["target_mbar"]) == (cast.pour_temp_c, cast.target_mbar)
    assert out["spin_rpm"] == cast.spin_rpm  # a vacuum cast's params carry 0.0, not None
    assert out["outcome"] is None and out["last_cast_id"] is None
    await confirm(rig, "flask_placed")
    out = wire(rig)
    assert out["confirmations"] == [["flask_placed", "tech1"]]
    await rig.until(lambda: status(rig)["state"] == "idle")
    out = wire(rig)
    assert out["outcome"] == "completed" and out["last_cast_id"] == run.id
    assert out["cast_id"] is None and out["confirmations"] == [] and out["safe"] is True


async def test_a_centrifugal_caster_with_a_latched_drive_fault_and_an_abort(make_rig):
    rig = await make_rig(CasterKind.CENTRIFUGAL)
    rig.plant.drive_fault = 58
    await rig.until(lambda: status(rig)["drive_fault"] == 58)
    out = wire(rig)
    assert out["kind"] == "centrifugal" and out["rpm"] == 0.0 and out["chamber_mbar"] is None
    rig.plant.drive_fault = 0
    await rig.until(lambda: status(rig)["drive_fault"] is None)
    rig.plant.flask_present = True
    await start(rig)
    await rig.until(lambda: status(rig)["state"] == "balance")
    assert wire(rig)["spin_rpm"] == params(rig).spin_rpm
    await rig.runner.submit(lambda: rig.runner.abort("tech1", "wrong flask"))
    out = wire(rig)
    assert out["state"] == "idle" and out["outcome"] == "aborted by tech1"


@pytest.mark.parametrize("dead", ["gauge", "io"])
async def test_a_silent_device_and_an_uncommissioned_one(make_rig, dead):
    rig = await make_rig(CasterKind.VACUUM)
    rig.runner.uncommissioned = ("gauge1",)
    rig.plant.dead.add(dead)
    await rig.until(lambda: status(rig)["stale"] != [])
    out = wire(rig)
    assert out["commissioned"] is False and out["uncommissioned"] == ["gauge1"]
    assert out["stale"] == [{"gauge": "gauge1", "io": "io1"}[dead]]
