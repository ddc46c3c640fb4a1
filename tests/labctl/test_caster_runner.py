"""The caster runner against fake devices at the capability seam, in virtual time."""

from __future__ import annotations

import asyncio

import pytest

from drivers.capabilities import (
    CasterOutputs,
    PressureReading,
)
from drivers.clock import VirtualClock
from drivers.errors import LinkDown
from labctl.cast.devices import ApplyFailed, CasterDevices
from labctl.cast.sequence import Actuation
from labctl.cast.summary import CastOrigin, CastSummary
from labctl.commands.registry import CommandRefused
from labctl.config.limits import CasterKind
from labctl.runs.state import OutcomeKind
from labctl.runs.store import RunStoreError
from tests._support.caster_fakes import (
    Crucible,
    Drive,
    Gauge,
    Io,
    Plant,
    Tc,
    confirm,
    make_rig,
    outcome,
    params,
    start,
)

__all__ = ["make_rig"]  # the fixture, imported for these tests


@pytest.mark.parametrize("alloy", ["gold-18k-yellow", "silver-925", "gold-14k-white"])
async def test_a_vacuum_cast_runs_to_completed(make_rig, alloy):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig, alloy)
    await rig.until(lambda: rig.state() == "flask_transfer")
    with pytest.raises(CommandRefused, match="no flask detected"):
        await confirm(rig, "flask_placed")
    rig.plant.flask_present = True
    with pytest.raises(CommandRefused, match="waits for flask_placed, not balance_confirmed"):
        await confirm(rig, "balance_confirmed")
    await confirm(rig, "flask_placed")
    await rig.until(lambda: rig.state() == "idle")
    assert await outcome(rig) == "completed"
    assert rig.plant.outputs == CasterOutputs() and rig.plant.sp_c is None
    (run,) = await rig.store.history(limit=1)
    texts = [e.text for e in await rig.store.events(run.id)]
    assert "flask_placed confirmed by tech1" in texts
    assert "pour -> vacuum_hold" in texts


async def test_a_centrifugal_cast_spins_brakes_and_completes(make_rig):
    rig = await make_rig(CasterKind.CENTRIFUGAL)
    rig.plant.flask_present = True
    await start(rig)
    await rig.until(lambda: rig.state() == "balance")
    await confirm(rig, "balance_confirmed")
    await rig.until(lambda: rig.state() == "spin_hold")
    assert rig.plant.rpm > 300
    await rig.until(lambda: rig.state() == "idle")
    assert await outcome(rig) == "completed"
    assert rig.plant.drive_hz == 0 and rig.plant.rpm < 2


@pytest.mark.parametrize(
    ("state", "fault", "reason"),
    [
        ("melt", lambda p: setattr(p, "estop_ok", False), "e-stop pressed"),
        ("melt", lambda p: p.dead.add("crucible_tc"), "no reading from tc1"),
        ("evacuate", lambda p: setattr(p, "pump_broken", True), "vacuum pump failure"),
        ("vacuum_hold", lambda p: setattr(p, "leak", True), "vacuum lost during vacuum_hold"),
        ("evacuate", lambda p: setattr(p, "lid_closed", False), "lid/door opened during evacuate"),
    ],
)
async def test_a_fault_ends_the_cast_faulted_with_every_device_safe(make_rig, state, fault, reason):
    rig = await make_rig(CasterKind.VACUUM)
    rig.plant.flask_present = True
    await start(rig)
    if state != "melt":
        await rig.until(lambda: rig.state() == "flask_transfer")
        await confirm(rig, "flask_placed")
    await rig.until(lambda: rig.state() == state)
    fault(rig.plant)
    await rig.until(lambda: rig.state() == "idle")
    text = await outcome(rig)
    assert text.startswith("faulted: ") and reason in text
    assert rig.plant.sp_c is None and not rig.plant.outputs.pump and rig.plant.outputs.vent_valve


async def test_a_missing_confirmation_times_out_into_the_safe_state(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig)
    await rig.until(lambda: rig.state() == "flask_transfer")
    await rig.until(lambda: rig.state() == "idle")
    assert "nobody confirmed the flask" in await outcome(rig)
    assert rig.plant.sp_c is None


async def test_a_start_is_refused_with_the_lid_open_or_a_device_silent(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    rig.plant.lid_closed = False
    rig.plant.dead.add("gauge")
    await rig.until(lambda: rig.runner.snapshot.stale != ())
    with pytest.raises(CommandRefused, match=r"no reading from gauge1.*the lid/door is open"):
        await start(rig)


async def test_an_abort_is_recorded_with_who(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig)
    await rig.until(lambda: rig.state() == "melt")
    await rig.runner.submit(lambda: rig.runner.abort("supervisor1", "wrong flask"))
    assert await outcome(rig) == "aborted by supervisor1"
    assert rig.plant.sp_c is None


async def test_a_cast_cut_short_by_a_restart_is_recorded_interrupted_with_its_origin(make_rig):
    rig = await make_rig(CasterKind.VACUUM)
    rig.plant.flask_present = True
    await start(rig)
    await rig.until(lambda: rig.state() == "flask_transfer")
    await confirm(rig, "flask_placed")
    await rig.until(lambda: rig.state() == "evacuate")
    recorded: list[CastSummary] = []

    async def recorder(summary: CastSummary) -> None:
        recorded.append(summary)

    await rig.restart(recorder)
    assert rig.state() == "idle" and rig.plant.sp_c is None and not rig.plant.outputs.pump
    (run,) = await rig.store.history(limit=1)
    (summary,) = recorded
    assert summary.cast_id == run.id and summary.caster == "c1"
    assert summary.outcome.kind is OutcomeKind.INTERRUPTED
    assert str(run.outcome) in str(summary.outcome) and "telemetry" in str(summary.outcome)
    assert summary.origin == CastOrigin(kiln="kiln1", flask_c=566.0, flask_id="F-1", melt_id="M-1")
    assert summary.params == params(rig)
    assert [(step, by) for step, by, _ in summary.confirmations] == [("flask_placed", "tech1")]
    assert summary.series == []


async def test_a_cast_stored_without_its_origin_still_ends_interrupted(make_rig, caplog):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig)
    await rig.until(lambda: rig.state() == "melt")
    (run,) = await rig.store.history(limit=1)
    rig.tasks[0].cancel()  # the daemon dies first: nothing saves the cast's state after this
    await asyncio.gather(rig.tasks[0], return_exceptions=True)
    await rig.store.save_state(run.id, state_json='{"state": "melt"}', at_wall=0.0)  # older labctl
    recorded: list[CastSummary] = []

    async def recorder(summary: CastSummary) -> None:
        recorded.append(summary)

    await rig.restart(recorder)
    assert recorded == [] and f"cast {run.id} is NOT in the ledger" in caplog.text
    assert (await outcome(rig)).startswith("interrupted: ") and rig.plant.sp_c is None


async def test_a_latched_drive_fault_blocks_a_cast_until_a_person_clears_it(make_rig):
    rig = await make_rig(CasterKind.CENTRIFUGAL)
    rig.plant.flask_present = True
    rig.plant.drive_fault = 58  # CE10: the daemon was away long enough for the drive to notice
    await rig.until(lambda: rig.runner.snapshot.drive_fault == 58)
    with pytest.raises(CommandRefused, match="the drive reports fault code 58"):
        await start(rig)
    rig.plant.rpm = 1000.0  # still coasting: nobody clears a fault on a turning arm
    await rig.until(lambda: (rig.runner.snapshot.rpm or 0) > 500)
    with pytest.raises(CommandRefused, match="not at standstill"):
        await rig.runner.submit(lambda: rig.runner.reset_drive_fault("tech1"))
    await rig.until(lambda: rig.runner.snapshot.rpm == 0.0)
    reply = await rig.runner.submit(lambda: rig.runner.reset_drive_fault("tech1"))
    assert reply == {"caster": "c1", "cleared_fault": 58, "by": "tech1"}
    await rig.until(lambda: rig.runner.snapshot.drive_fault is None)
    assert rig.plant.drive_hz == 0.0  # cleared, still stopped
    with pytest.raises(CommandRefused, match="reports no fault"):
        await rig.runner.submit(lambda: rig.runner.reset_drive_fault("tech1"))
    await start(rig)
    await rig.until(lambda: rig.state() == "balance")
    with pytest.raises(CommandRefused, match="is casting"):
        await rig.runner.submit(lambda: rig.runner.reset_drive_fault("tech1"))


async def test_a_full_disk_ends_the_cast_faulted_and_its_outcome_is_stored_later(
    make_rig, monkeypatch
):
    rig = await make_rig(CasterKind.VACUUM)
    await start(rig)
    await rig.until(lambda: rig.state() == "melt")

    async def disk_full(*args: object, **kwargs: object) -> None:
        raise RunStoreError("database or disk is full")

    store = rig.store
    saved = (store.save_state, store.add_event, store.end_run)
    for name in ("save_state", "add_event", "end_run"):
        monkeypatch.setattr(store, name, disk_full)
    await rig.until(lambda: rig.state() == "idle")
    status = rig.runner.snapshot.as_dict()
    assert str(status["outcome"]).startswith("faulted: the run store cannot be written"), status
    assert rig.plant.outputs == CasterOutputs() and rig.plant.sp_c is None  # every device safe
    with pytest.raises(CommandRefused, match="is not stored yet"):
        await start(rig)
    (run,) = await rig.store.history(limit=1)
    assert run.outcome is None  # still open in the store while the disk is full
    monkeypatch.setattr(store, "save_state", saved[0])
    monkeypatch.setattr(store, "add_event", saved[1])
    monkeypatch.setattr(store, "end_run", saved[2])
    await rig.clock.sleep(3.0)
    (run,) = await rig.store.history(limit=1)
    assert run.outcome is not None and run.outcome.kind is OutcomeKind.FAULTED, run
    await start(rig)  # the caster takes casts again
    await rig.until(lambda: rig.state() == "melt")


async def test_a_drive_that_refuses_the_reset_gets_a_reason_and_the_loop_goes_on(
    make_rig, monkeypatch
):
    """Regression (issue 11): an exception from the drive's reset killed the caster task."""
    rig = await make_rig(CasterKind.CENTRIFUGAL)
    rig.plant.drive_fault = 58
    await rig.until(lambda: rig.runner.snapshot.drive_fault == 58)

    async def refuse(self: Drive) -> None:
        raise LinkDown("exception 4 (slave device failure)")

    monkeypatch.setattr(Drive, "reset_fault", refuse)
    with pytest.raises(CommandRefused, match=r"c1: not done: .*exception 4"):
        await rig.runner.submit(lambda: rig.runner.reset_drive_fault("tech1"))
    ticks = rig.runner.ticks
    await rig.until(lambda: rig.runner.ticks > ticks + 2)
    assert rig.runner.crashes == 0 and rig.runner.snapshot.drive_fault == 58


async def test_a_gauge_reporting_a_fault_refuses_a_start_with_its_status(make_rig, monkeypatch):
    """The device-status table decides a start too (issue 12): a broken gauge is named."""
    rig = await make_rig(CasterKind.VACUUM)
    rig.plant.flask_present = True

    async def broken(self: Gauge) -> PressureReading:
        return PressureReading(at=self.p.clock.now(), mbar=None, status="sensor error")

    monkeypatch.setattr(Gauge, "read", broken)
    await rig.until(lambda: rig.runner.snapshot.chamber_mbar is None)
    with pytest.raises(CommandRefused, match=r"c1 cannot start: .*sensor error"):
        await start(rig)


async def test_coils_changed_behind_labctl_are_caught_before_a_write_hides_them():
    """A power cycle of the I/O module between a tick's read and the next state's write: the
    write sets every coil, so the read-back interlock would never see it. The write checks
    first (the HIL fault matrix's I/O reboot during the pour, a race on a loaded runner)."""
    clock = VirtualClock()
    plant = Plant(clock)
    names = {"crucible": "crucible1", "io": "io1", "crucible_tc": "tc1", "gauge": "gauge1"}
    devices = CasterDevices(
        names=names, crucible=Crucible(plant), io=Io(plant), crucible_tc=Tc(plant),
        gauge=Gauge(plant), drive=None,
    )  # fmt: skip
    pumping = Actuation(outputs=CasterOutputs(pump=True, chamber_valve=True))
    pouring = Actuation(outputs=CasterOutputs(pump=True, chamber_valve=True, pour=True))
    await devices.apply(pumping)
    plant.outputs = CasterOutputs(vent_valve=True)  # rebooted: every coil to its safe value
    with pytest.raises(ApplyFailed, match=r"io1: I/O module outputs changed behind labctl \("):
        await devices.apply(pouring)
    assert plant.outputs == CasterOutputs(vent_valve=True)  # nothing written over it


async def test_coils_changed_while_idle_are_set_again_before_the_next_cast(make_rig, caplog):
    """The I/O module's comms watchdog (a loaded host went silent for its lease) or a power
    cycle drops the coils while the caster is idle. Left so, the next cast's first write found
    them changed and faulted at once (the demo at 1200x: "outputs changed behind labctl
    (lid_release)"); the idle caster drives every device safe again and says so."""
    rig = await make_rig(CasterKind.CENTRIFUGAL)
    await rig.until(lambda: rig.plant.outputs.lid_release)  # released: the arm stands still
    rig.plant.outputs = CasterOutputs()  # the module's watchdog: every coil to its safe value
    await rig.until(lambda: rig.plant.outputs.lid_release)
    assert "idle, yet I/O module outputs changed behind labctl (lid_release)" in caplog.text
    rig.plant.flask_present = True
    await start(rig)
    await rig.until(lambda: rig.state() == "balance")
    assert rig.runner.snapshot.outcome is None
