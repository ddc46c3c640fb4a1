"""A burnout started on a hot kiln, through the real daemon (issue 12's first finding).

Before: in stream mode a kiln at 596 °C began at its cool segment, every ramp and hold (the
dewax included) was skipped, and taking the flask signed the run *completed*.
"""

from __future__ import annotations

from drivers._sim.plant.physics import KilnThermalModel
from hil_tests.test_burnout import _heat_off

HOT_C = 596.0


def _hot(rig) -> None:
    rig.sim.kiln = KilnThermalModel(flask="small", start_c=HOT_C)


async def test_a_hot_kiln_refuses_a_new_burnout_with_the_numbers(make_rig):
    rig = await make_rig()
    _hot(rig)
    await rig.start_daemon()
    reply = await rig.command("start", kiln="kiln1", profile="hil-short")
    assert not reply["ok"], reply
    assert "above the loading temperature of hil-short (300 °C" in reply["error"], reply
    assert "a freshly invested flask must start with its dewax" in reply["error"], reply
    kiln = await rig.kiln()
    assert (kiln["state"], kiln["run_id"]) == ("idle", None)
    assert (await rig.status() or {})["history"] == []


async def test_a_hot_kiln_chosen_to_cool_first_cools_heat_off_then_runs_from_segment_one(
    make_rig,
):
    rig = await make_rig()
    _hot(rig)
    await rig.start_daemon()
    reply = await rig.command("start", kiln="kiln1", profile="hil-short", cool_first=True)
    assert reply["ok"], reply
    status = await rig.wait_for(lambda s: s["kilns"][0]["run_id"] is not None, timeout_s=10)
    kiln = status["kilns"][0]
    assert kiln["segment"].startswith("cooling to the loading temperature 300 °C, heat off")
    assert kiln["segment_index"] == 0 and kiln["eta_s"] is None
    await rig.wait_sim(_heat_off, 10)
    _refused = await rig.command("take_flask", kiln="kiln1")
    assert not _refused["ok"] and "has not reached its final hold" in _refused["error"]
    status = await rig.wait_for(lambda s: s["kilns"][0]["segment"].startswith("1/7 "), timeout_s=60)
    assert status["kilns"][0]["pv_c"] <= 300 + 30 + 5, status["kilns"][0]
    await rig.wait_for(lambda s: s["kilns"][0]["segment"].startswith("2/7 "), timeout_s=60)
