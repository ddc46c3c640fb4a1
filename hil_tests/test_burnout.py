"""The whole daemon against a simulated kiln: complete runs, crash and resume.

Faults (sensor break, stall, stuck relay, comms faults, ...) in every phase are in
``test_fault_matrix.py``.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

HEAT_OFF_WITHIN_S = 5.0  # wall seconds (83 simulated minutes at 1000x) for the kiln to be safe


def _heat_off(sim) -> bool:
    return bool(sim.output_pct <= 0.5)


async def _start(rig) -> int:
    reply = await rig.command("start", kiln="kiln1", profile="hil-short")
    assert reply["ok"], reply
    return int(reply["result"]["run_id"])


@pytest.mark.parametrize("mode", ["stream", "programmer"])
async def test_complete_burnout(make_rig, mode):
    rig = await make_rig(mode=mode)
    await rig.start_daemon()
    await _start(rig)
    await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=60)
    kiln = await rig.kiln()
    assert abs(kiln["pv_c"] - 450) < 25, kiln
    reply = await rig.command("take_flask", kiln="kiln1")
    assert reply["ok"], reply
    assert await rig.wait_outcome() == "completed"
    await rig.wait_sim(_heat_off, HEAT_OFF_WITHIN_S)
    # streaming goes to the volatile remote SP; a program download writes each changed
    # parameter once (8 segments x 3 + 5 settings at most)
    assert rig.sim.eeprom_writes <= (2 if mode == "stream" else 29), rig.sim.eeprom_writes


async def test_complete_burnout_over_rtu_pty(make_rig):
    rig = await make_rig(mode="stream", transport="rtu")
    await rig.start_daemon()
    await _start(rig)
    await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=90)
    assert (await rig.command("take_flask", kiln="kiln1"))["ok"]
    assert await rig.wait_outcome() == "completed"


async def _run_until_segment(rig, text: str) -> None:
    await rig.wait_for(lambda s: text in (s["kilns"][0]["segment"] or ""), timeout_s=60)


async def test_sigkill_then_restart_resumes_the_run(make_rig):
    rig = await make_rig(mode="stream")
    await rig.start_daemon()
    run_id = await _start(rig)
    await _run_until_segment(rig, "hold")
    await rig.kill_daemon()
    await asyncio.sleep(0.3)  # 5 simulated minutes down: within the resume limits
    await rig.start_daemon()
    kiln = await rig.kiln()
    assert kiln["run_id"] == run_id, kiln
    await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=60)
    assert (await rig.command("take_flask", kiln="kiln1"))["ok"]
    assert await rig.wait_outcome() == "completed"


async def test_sigkill_with_long_outage_ends_run_interrupted(make_rig):
    rig = await make_rig(mode="stream", max_gap_min=10, comms_timeout_s=300.0)
    await rig.start_daemon()
    await _start(rig)
    await _run_until_segment(rig, "hold")
    await rig.kill_daemon()
    # with the host dead, the device's fallback must turn heat off on its own
    await rig.wait_sim(_heat_off, HEAT_OFF_WITHIN_S)
    await asyncio.sleep(0.8)  # > 10 simulated minutes
    await rig.start_daemon()
    outcome = await rig.wait_outcome(timeout_s=15)
    assert outcome.startswith("interrupted:") and "down for" in outcome, outcome


async def test_sigkill_in_programmer_mode_keeps_program_running_on_device(make_rig):
    rig = await make_rig(mode="programmer")
    await rig.start_daemon()
    await _start(rig)
    await _run_until_segment(rig, "ramp to 500")
    await rig.kill_daemon()
    before = rig.sim.working_sp_c
    await asyncio.sleep(1.0)
    assert rig.sim.working_sp_c > before, "the controller's own programmer keeps going"
    await rig.start_daemon()
    await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=60)


async def test_a_hung_daemon_in_stream_mode_leaves_the_heat_off_then_faults(make_rig):
    rig = await make_rig(mode="stream")
    await rig.start_daemon()
    await _start(rig)
    await _run_until_segment(rig, "ramp to 500")
    proc = rig.daemon.proc
    assert proc is not None and rig.sim.output_pct > 0.5  # heating
    proc.send_signal(signal.SIGSTOP)  # hung: the remote setpoint is no longer renewed
    try:
        await rig.wait_sim(_heat_off, HEAT_OFF_WITHIN_S)  # the controller's own lease
    finally:
        proc.send_signal(signal.SIGCONT)
    outcome = await rig.wait_outcome(timeout_s=30)
    assert outcome.startswith("faulted:") and "fallback" in outcome, outcome
