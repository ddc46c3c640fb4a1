"""Whole casts over loopback Modbus TCP and serial ptys: the daemon against a simulated caster."""

from __future__ import annotations

import pytest

from hil_tests.caster_support import PROFILES, caster_rig
from labctl.profiles.alloys import load_alloy

pytestmark = [pytest.mark.hil, pytest.mark.timeout(180)]


def alloy(name: str):
    return load_alloy(PROFILES / "alloys" / f"{name}.toml")


@pytest.mark.parametrize("name", ["gold-18k-yellow", "silver-925", "gold-14k-white"])
async def test_a_complete_vacuum_cast(tmp_path, name):
    a = alloy(name)
    async with caster_rig(
        tmp_path, "vacuum", flask_c=a.flask.medium_c, solidus_c=a.solidus_c, liquidus_c=a.liquidus_c
    ) as rig:
        await rig.start_daemon()
        reply = await rig.command(
            "cast_start", caster="caster1", alloy=name, piece_class="medium", kiln="kiln1"
        )
        assert reply["ok"], reply
        status = await rig.wait_state("flask_transfer", timeout_s=90)
        assert status["waiting_for"] == "flask_placed"
        assert abs(rig.sim.crucible.pv_c - a.pour_temp_c) < 15
        rig.sim.io.flask_present = True
        await rig.wait_for(lambda c: c["flask_present"], timeout_s=5)
        reply = await rig.command("cast_confirm", caster="caster1", step="flask_placed")
        assert reply["ok"], reply
        await rig.wait_state("vacuum_hold", timeout_s=30)
        assert rig.sim.chamber.chamber_mbar < a.vacuum.target_mbar
        assert await rig.outcome(timeout_s=30) == "completed"
        coils = rig.sim.io.coils
        assert not coils.pump and coils.vent_valve and not coils.pour
        assert rig.sim.crucible.output_pct == 0
