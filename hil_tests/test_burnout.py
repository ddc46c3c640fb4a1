"""The whole daemon against a simulated kiln: complete runs, crash and resume.

Faults (sensor break, stall, stuck relay, comms faults, ...) in every phase are in
``test_fault_matrix.py``.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.registers import Status
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.conftest import SPEED, TEST_PROFILE, TICK_S, Rig
from labctl.sim.site import rig_site

pytestmark = [pytest.mark.hil, pytest.mark.timeout(120)]

HEAT_OFF_WITHIN_S = 5.0  # wall seconds (83 simulated minutes at 1000x) for the kiln to be safe


def _in_fallback(sim) -> bool:
    return bool(Status(int(sim.bank.get("status"))) & Status.REMOTE_SP_FAIL)


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
    # the restart must fall within the resume limit even on a loaded machine (1 s = 17 min here)
    rig = await make_rig(mode="programmer", max_gap_min=240)
    await rig.start_daemon()
    await _start(rig)
    await _run_until_segment(rig, "ramp to 500")
    await rig.kill_daemon()
    before = rig.sim.working_sp_c
    await asyncio.sleep(1.0)
    assert rig.sim.working_sp_c > before, "the controller's own programmer keeps going"
    await rig.start_daemon()
    await rig.wait_for(lambda s: s["kilns"][0]["state"] == "final_hold", timeout_s=60)


async def test_a_hung_daemon_in_stream_mode_leaves_the_heat_off_on_the_devices_lease(make_rig):
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
    # Woken, the daemon ends the run faulted (the fallback it reads, or the stale-reading
    # interlock when the hang outlasted its limit), or, when a reply from before the hang lands
    # first, its next setpoint renews the lease and it supervises the run again: either way it
    # never reports a completed run and never loses the kiln.
    status = await rig.wait_for(
        lambda s: (
            str(s["kilns"][0]["outcome"] or "").startswith("faulted:")
            or (s["kilns"][0]["state"] == "running" and not _in_fallback(rig.sim))
        ),
        timeout_s=30,
    )
    kiln = status["kilns"][0]
    assert kiln["outcome"] is None or kiln["outcome"].startswith("faulted: "), kiln


CORE_TOLERANCE_C = 15.0  # a tick (5 s) plus a status round trip at 1000x: ~5 °C measured
STALE_AFTER = "\n[kilns.kiln1.interlocks]\nstale_after_s = 60\n"  # as the other rigs at 1000x


async def test_the_flask_core_thermocouple_tracks_the_flask_through_a_burnout(
    tmp_path: Path,
) -> None:
    """A probe in the flask (an ADAM-4018 on its own pty) shows the simulated core."""
    (tmp_path / "profiles" / "burnout").mkdir(parents=True)
    (tmp_path / "profiles" / "burnout" / "hil-short.toml").write_text(TEST_PROFILE)
    epoch = time.time()
    clock = ScaledClock(SPEED, epoch=epoch)
    sim = Eurotherm3200Sim(SimOptions(flask="small", comms_timeout_s=300.0))
    probe = Adam4018Sim(lambda: [sim.flask_core_c])
    async with (
        sim.serving(clock=clock, tcp_port=0) as kiln,
        probe.serving(clock=clock, pty_link=tmp_path / "flask_tc") as flask_tc,
    ):
        assert kiln.port is not None
        site = tmp_path / "site.toml"
        site.write_text(
            rig_site(
                state=tmp_path / "state", profiles=tmp_path / "profiles", speed=SPEED,
                epoch=epoch, tick_s=TICK_S, kiln_port=kiln.port, flask_tc=flask_tc,
            )
            + STALE_AFTER
        )  # fmt: skip
        rig = Rig(tmp=tmp_path, sim=sim, clock=clock, mode="stream", site=site)
        try:
            await rig.start_daemon()
            await _start(rig)
            seen: list[tuple[float, float, float]] = []  # daemon's core, sim's core, PV

            def sample(status: dict[str, Any]) -> bool:
                kiln = status["kilns"][0]
                if kiln["flask_core_c"] is not None:
                    seen.append((kiln["flask_core_c"], sim.flask_core_c, kiln["pv_c"]))
                return bool(kiln["state"] == "final_hold")

            await rig.wait_for(sample, timeout_s=60)
        finally:
            await rig.stop_daemon()
    assert len(seen) >= 20, seen
    worst = max(abs(daemon - actual) for daemon, actual, _ in seen)
    assert worst < CORE_TOLERANCE_C, (worst, seen)
    cores = [daemon for daemon, _, _ in seen]
    assert max(cores) - min(cores) > 200, cores  # it followed the flask up the ramps
    assert max(abs(core - pv) for core, _, pv in seen) > 2 * CORE_TOLERANCE_C  # not the PV
