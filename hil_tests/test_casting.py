"""Whole casts over loopback Modbus TCP and serial ptys: the daemon against a simulated caster."""

from __future__ import annotations

import dataclasses

import pytest

from drivers.capabilities import CasterOutputs
from hil_tests.support.caster import PROFILES, caster_rig
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


async def _to_confirmation(rig, name: str, step: str) -> None:
    reply = await rig.command(
        "cast_start", caster="caster1", alloy=name, piece_class="medium", kiln="kiln1"
    )
    assert reply["ok"], reply
    await rig.wait_for(lambda c: c["waiting_for"] == step, timeout_s=90)
    rig.sim.io.flask_present = True
    await rig.wait_for(lambda c: c["flask_present"], timeout_s=5)
    reply = await rig.command("cast_confirm", caster="caster1", step=step)
    assert reply["ok"], reply


@pytest.mark.parametrize("name", ["gold-18k-yellow", "silver-925", "gold-10k-rose"])
async def test_a_complete_centrifugal_cast(tmp_path, name):
    a = alloy(name)
    async with caster_rig(
        tmp_path, "centrifugal", flask_c=a.flask.medium_c, solidus_c=a.solidus_c,
        liquidus_c=a.liquidus_c,
    ) as rig:  # fmt: skip
        await rig.start_daemon()
        await _to_confirmation(rig, name, "balance_confirmed")
        await rig.wait_state("spin_hold", timeout_s=30)
        assert rig.sim.drive is not None
        assert rig.sim.drive.arm.rpm > 0.85 * a.centrifugal.spin_rpm
        assert not rig.sim.io.coils.lid_release  # locked while the arm turns
        assert await rig.outcome(timeout_s=60) == "completed"
        assert rig.sim.drive.output_hz == 0
        await rig.wait_sim(lambda s: s.io.coils.lid_release, timeout_s=5)
        assert rig.sim.io.arm_stopped  # released only at standstill


async def test_a_start_is_refused_when_the_flask_is_not_at_the_alloys_temperature(tmp_path):
    a = alloy("gold-18k-yellow")
    async with caster_rig(tmp_path, "vacuum", flask_c=a.flask.medium_c - 150) as rig:
        await rig.start_daemon()
        reply = await rig.command(
            "cast_start", caster="caster1", alloy=a.name, piece_class="medium", kiln="kiln1"
        )
        assert not reply["ok"]
        assert "pieces need 566 ± 40 °C" in reply["error"]


async def test_a_missing_confirmation_times_out_into_the_safe_state(tmp_path):
    a = alloy("gold-18k-yellow")
    async with caster_rig(
        tmp_path, "vacuum", flask_c=a.flask.medium_c, confirm_timeout_s=30
    ) as rig:
        await rig.start_daemon()
        reply = await rig.command(
            "cast_start", caster="caster1", alloy=a.name, piece_class="medium", kiln="kiln1"
        )
        assert reply["ok"], reply
        outcome = await rig.outcome(timeout_s=120)
        assert outcome.startswith("faulted: flask transfer: nobody confirmed")
        assert rig.sim.crucible.stopped
        assert rig.sim.io.coils.vent_valve and not rig.sim.io.coils.pump


UNDER_VACUUM = ("evacuate", "pour", "vacuum_hold")


def _link(device: str):
    return lambda sim: getattr(sim, device).backdoor.comms_loss(True)


V, C, MELT, SPIN = "vacuum", "centrifugal", ("melt",), ("spin_hold",)
FAULTS = [  # the rest (sensor break, e-stop, pump, leak, lid, drive...): test_fault_matrix.py
    # (kind, inject in one of these states, inject, reason in the outcome, link to restore)
    (V, MELT, _link("io"), "no reading from io1", "io"),
    (V, MELT, _link("tc"), "no reading from tc1", "tc"),
    (V, UNDER_VACUUM, _link("gauge"), "no reading from gauge1", "gauge"),
    (V, UNDER_VACUUM, lambda s: s.gauge.backdoor.sensor_error(), "gauge: sensor error", None),
    (C, SPIN, _link("drive"), "no reading from vfd1", "drive"),
]


@pytest.mark.parametrize(
    ("kind", "states", "inject", "reason", "restore"),
    FAULTS,
    ids=[f"{f[0]}-{f[3].split(' (')[0].replace(' ', '_')}" for f in FAULTS],
)
async def test_a_fault_ends_the_cast_faulted_with_every_device_safe(
    tmp_path, kind, states, inject, reason, restore
):
    a = alloy("gold-18k-yellow")
    async with caster_rig(tmp_path, kind, flask_c=a.flask.medium_c, crucible_c=1000.0) as rig:
        await rig.start_daemon()
        step = "flask_placed" if kind == "vacuum" else "balance_confirmed"
        if states == ("melt",):
            reply = await rig.command(
                "cast_start", caster="caster1", alloy=a.name, piece_class="medium", kiln="kiln1"
            )
            assert reply["ok"], reply
        else:
            await _to_confirmation(rig, a.name, step)
        await rig.wait_for(lambda c: c["state"] in states, timeout_s=60)
        inject(rig.sim)
        outcome = await rig.outcome(timeout_s=30)
        assert outcome.startswith("faulted: ") and reason in outcome, outcome
        if restore is not None:  # a device that was unreachable is made safe once it answers
            getattr(rig.sim, restore).backdoor.comms_loss(False)
        await rig.wait_sim(lambda s: s.crucible.stopped, timeout_s=20)
        safe = CasterOutputs()  # a lid is released again once the arm stands still
        await rig.wait_sim(
            lambda s: dataclasses.replace(s.io.coils, lid_release=False) == safe, timeout_s=20
        )
        if (drive := rig.sim.drive) is not None:
            await rig.wait_sim(lambda s: drive.output_hz == 0, timeout_s=20)
        await rig.wait_for(lambda c: c["safe"], timeout_s=30)  # confirmed by labctl itself
