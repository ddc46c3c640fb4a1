"""Supervision of the lab's machine loops, by hand, and what the lab model found, pinned.

The lab (:mod:`tests._support.lab`) as the model of :mod:`tests.labctl.machines.test_lab_model`
drives it: an unexpected bug in a kiln tick, in a command or in a caster driver faults that run
only and the loop goes on; a heat-off or a caster's recovery across a daemon restart.
"""

from __future__ import annotations

from pathlib import Path

from labctl.config.limits import CasterKind
from labctl.config.users import Role
from tests._support.lab import lab_of
from tests._support.lab_commands import PAYLOADS
from tests._support.lab_site import CASTER, FLASK_C, KILN

# --------------------------------------------------------------------- supervision, by hand


async def test_a_bug_in_a_kiln_tick_faults_its_run_only_and_the_loop_restarts(
    lab_dir: Path,
) -> None:
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM) as lab:
        lab.controller.pv_c = FLASK_C
        await lab.ticks(1)
        assert (await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)).done
        assert (await lab.command("start", PAYLOADS["start"](lab), Role.TECHNICIAN)).done
        await lab.ticks(2)
        caster_ticks = lab.caster.ticks
        lab.controller.crash_reads = 1
        await lab.until(lambda: lab.kiln.crashes == 1, why="crash")
        await lab.ticks(3)
        snap = lab.kiln.snapshot
        assert snap.state == "idle" and snap.outcome is not None
        assert snap.outcome.startswith("faulted: internal error: InjectedBug: injected bug")
        assert not lab.controller.heating and snap.safe
        assert lab.crashes == [(KILN, lab.kiln.last_crash)]
        assert any("driven safe, its loop restarted" in t for t in lab.board.texts())
        assert lab.alive() and lab.caster_state() != "idle"  # the other machine went on
        assert lab.caster.ticks > caster_ticks and lab.caster.crashes == 0
        ticks = lab.kiln.ticks
        answer = await lab.command("hold", PAYLOADS["hold"](lab), Role.TECHNICIAN)
        assert not answer.done and "cannot hold: no burnout is running on k1" in answer.text
        await lab.ticks(3)
        assert lab.kiln.ticks > ticks  # restarted, ticking again


async def test_a_bug_in_a_command_is_answered_and_faults_the_run(lab_dir: Path) -> None:
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM) as lab:
        assert (await lab.command("start", PAYLOADS["start"](lab), Role.TECHNICIAN)).done
        await lab.ticks(2)
        lab.controller.crash_hold = True
        first, second = await lab.together("hold", PAYLOADS["hold"](lab), Role.TECHNICIAN)
        assert not first.done and "k1: internal error: InjectedBug" in first.text, first
        assert not second.done, second  # its loop restarts: refused, never carried out late
        await lab.ticks(5)
        snap = lab.kiln.snapshot
        assert snap.state == "idle" and str(snap.outcome).startswith("faulted: internal error")
        assert not lab.controller.heating and lab.alive()
        stored = await lab.store.history(limit=1)
        assert str(stored[0].outcome).startswith("faulted: internal error: InjectedBug")


async def test_a_bug_in_a_caster_driver_faults_the_cast_and_the_caster_goes_on(
    lab_dir: Path,
) -> None:
    async with lab_of(lab_dir, caster_kind=CasterKind.CENTRIFUGAL) as lab:
        lab.controller.pv_c = FLASK_C
        await lab.ticks(1)
        assert (await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)).done
        await lab.until(lambda: lab.caster_state() == "melt", why="melt")
        lab.plant.crash.add("io")
        await lab.until(lambda: lab.caster.crashes == 1, why="crash")
        await lab.ticks(3)
        status = lab.caster.snapshot.as_dict()
        assert status["state"] == "idle" and status["safe"] is True
        assert str(status["outcome"]).startswith("faulted: internal error: InjectedBug")
        assert not lab.plant.energised and lab.alive()
        (cast,) = [r for r in await lab.store.history(limit=5) if r.kiln == CASTER]
        assert str(cast.outcome).startswith("faulted: internal error: InjectedBug")
        answer = await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)
        assert answer.done or "already cast" in answer.text or "cannot start" in answer.text, answer


# --------------------------------------------------------------- what the model found, by hand


async def test_a_heat_off_unconfirmed_before_a_restart_is_retried_after_it(lab_dir: Path) -> None:
    """The controller refused the heat-off of an aborted run, then the daemon restarted.

    The new daemon finds no active run and must still drive the controller safe (or say it is
    not): a programmer left running holds the kiln at temperature with nobody watching.
    """
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM) as lab:
        assert (await lab.command("start", PAYLOADS["start"](lab), Role.TECHNICIAN)).done
        await lab.ticks(2)
        lab.controller.refuse_safe = True
        assert (await lab.command("abort", PAYLOADS["abort"](lab), Role.TECHNICIAN)).done
        await lab.ticks(1)
        assert lab.controller.heating and not lab.kiln.snapshot.safe  # said honestly, retried
        await lab.restart(graceful=True)
        lab.controller.refuse_safe = False  # the controller takes writes again
        await lab.ticks(3)
        snap = lab.kiln.snapshot
        assert not lab.controller.heating or not snap.safe, (
            f"after the restart the kiln reads idle and safe, its controller still heating: "
            f"{lab.status()}"
        )


async def test_a_caster_recovering_after_a_restart_does_not_read_idle_and_safe(
    lab_dir: Path,
) -> None:
    """SIGKILL mid-cast with one device silent: the new daemon waits for it (up to the stale
    limit) before it drives the caster safe and ends the cast interrupted. Meanwhile its
    status must not say idle and safe with no cast while the crucible still heats and the run
    store still holds the cast as active."""
    async with lab_of(lab_dir, caster_kind=CasterKind.VACUUM) as lab:
        lab.controller.pv_c = FLASK_C
        await lab.ticks(1)
        assert (await lab.command("cast_start", PAYLOADS["cast_start"](lab), Role.TECHNICIAN)).done
        await lab.until(lambda: lab.caster_state() == "melt", why="melt")
        await lab.ticks(3)
        lab.plant.dead.add("gauge")
        await lab.restart(graceful=False)
        await lab.ticks(1)
        status = lab.caster.snapshot.as_dict()
        active = await lab.store.active_run(CASTER)
        assert lab.plant.heating and active is not None  # what is true during the recovery
        assert not (status["state"] == "idle" and status["safe"] is True), (
            f"the caster reads idle and safe, cast {active.id} active in the store and the "
            f"crucible heating: {status}"
        )
