"""When labctl dies or hangs mid-cast, the caster's devices go safe on their own leases.

The I/O module's comms watchdog drops every coil to safe (pump off, valves closed, vent open,
pour off, lid locked) and the drive ramps to stop when the host goes silent. The E5CC crucible
controller has no such mechanism (reference/devices.md §A.9): it keeps its last setpoint, which
the site accepted in writing (``accept_crucible_without_lease``); the test states that too.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from drivers.capabilities import CasterOutputs
from hil_tests.support.caster import PROFILES, caster_rig
from labctl.profiles.alloys import load_alloy

pytestmark = [pytest.mark.hil, pytest.mark.timeout(180)]
LEASES_S = 10.0  # wall seconds: the rig's 60 s (simulated) leases at 50x, plus the drive's ramp


async def _cast_to(rig, kind: str, state: str) -> None:
    alloy = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
    start = {"caster": "caster1", "alloy": alloy.name, "piece_class": "medium", "kiln": "kiln1"}
    assert (await rig.command("cast_start", **start))["ok"]
    step = "flask_placed" if kind == "vacuum" else "balance_confirmed"
    await rig.wait_for(lambda c: c["waiting_for"] == step, timeout_s=60)
    rig.sim.io.flask_present = True
    await rig.wait_for(lambda c: c["flask_present"], timeout_s=5)
    assert (await rig.command("cast_confirm", caster="caster1", step=step))["ok"]
    await rig.wait_state(state, timeout_s=30)


async def test_sigkill_mid_spin_the_drive_stops_and_the_coils_go_safe_by_themselves(tmp_path):
    alloy = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
    async with caster_rig(
        tmp_path, "centrifugal", flask_c=alloy.flask.medium_c, crucible_c=1000.0
    ) as rig:
        await rig.start_daemon()
        await _cast_to(rig, "centrifugal", "spin_hold")
        assert rig.sim.drive is not None
        drive = rig.sim.drive
        assert drive.output_hz > 0
        await rig.daemon.kill(signal.SIGKILL)
        await rig.wait_sim(lambda s: drive.output_hz == 0, timeout_s=LEASES_S)
        await rig.wait_sim(lambda s: s.io.watchdog_tripped, timeout_s=LEASES_S)
        assert rig.sim.io.coils == CasterOutputs()  # lid locked, everything off


async def test_a_hung_daemon_mid_vacuum_leaves_a_vented_chamber_and_then_faults(tmp_path):
    alloy = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
    async with caster_rig(
        tmp_path, "vacuum", flask_c=alloy.flask.medium_c, crucible_c=1000.0
    ) as rig:
        await rig.start_daemon()
        await _cast_to(rig, "vacuum", "vacuum_hold")
        assert rig.sim.io.coils.pump
        assert rig.daemon.proc is not None
        rig.daemon.proc.send_signal(signal.SIGSTOP)  # hangs: no requests, no reply
        try:
            await rig.wait_sim(lambda s: s.io.watchdog_tripped, timeout_s=LEASES_S)
            coils = rig.sim.io.coils
            assert not coils.pump and coils.vent_valve and not coils.chamber_valve
            await asyncio.sleep(0.5)
        finally:
            rig.daemon.proc.send_signal(signal.SIGCONT)
        outcome = await rig.outcome(timeout_s=30)
        # it noticed that the module went safe without it (the read-back of its coils, or a
        # write whose read-back the module's watchdog contradicted), and says so
        assert outcome.startswith("faulted: "), outcome
        assert "io1" in outcome or "I/O module outputs changed" in outcome, outcome
