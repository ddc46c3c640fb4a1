"""Casting-machine benchmark: the latency of one cast sequence step (EVACUATE -> POUR) against
the control tick (the serial round trips, (f), are in :mod:`bench.serial_wire`).

Each figure is printed by :func:`bench.run.row` next to a baseline of the same run.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.commands.registry import Caller
from labctl.config.site import SiteConfig, load_site
from labctl.config.users import Role
from labctl.daemon.app import Lab, build_lab
from labctl.daemon.run import run_lab
from labctl.profiles.alloys import load_alloy
from labctl.sim.site import rig_site

Row = Callable[[str, str, str, str], None]
BAUD = 9600
BITS_PER_CHAR = 10  # 8N1: start + 8 data + stop (reference/devices.md §F)
BENCH = Caller("bench", Role.SUPERVISOR)
ALLOY = "gold-18k-yellow"
PROFILES = Path(__file__).resolve().parent.parent / "profiles"
TICK_S = 0.1  # the caster's control tick (caster section tick_s)
STEP_TIMEOUT_S = 30.0  # wall seconds any one phase of a bench cast may take


async def _until(what: str, pred: Callable[[], bool], lab: Lab) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench cast: {what} not reached; {lab.casters['caster1'].snapshot}")
        await asyncio.sleep(0.01)


def _caster_tick(site: SiteConfig, tick_s: float) -> SiteConfig:
    """The site with ``caster1`` ticking every ``tick_s`` (a caster field, not a lab one)."""
    caster = site.casters["caster1"].model_copy(update={"tick_s": tick_s})
    return site.model_copy(update={"casters": {**site.casters, "caster1": caster}})


@contextlib.asynccontextmanager
async def _caster_lab(rig: CasterRigSim, flask_c: float) -> AsyncIterator[Lab]:
    """The rig, a kiln holding the flask, and the daemon in-process, all at clock speed 1."""
    epoch = time.time()
    clock = ScaledClock(1.0, epoch=epoch)
    kiln = Eurotherm3200Sim(SimOptions(flask="small", start_temp_c=flask_c))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        async with (
            rig.serving(clock=clock, pty_dir=tmp) as ep,
            kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
        ):
            assert kiln_ep.port is not None
            site = tmp / "site.toml"
            site.write_text(
                rig_site(
                    state=tmp / "state", profiles=PROFILES, speed=1.0, epoch=epoch, tick_s=1.0,
                    kiln_port=kiln_ep.port, caster=ep, stabilise_s=2.0, confirm_timeout_s=60.0,
                    name="bench-casting",
                )
            )  # fmt: skip
            lab = await build_lab(_caster_tick(load_site(site), TICK_S), clock)
            ready = asyncio.Event()
            daemon = asyncio.create_task(run_lab(lab, ready=ready), name="bench.daemon")
            try:
                await ready.wait()
                caster, kiln_runner = lab.casters["caster1"], lab.runners["kiln1"]
                await _until(
                    "every device answering",
                    lambda: (
                        not caster.snapshot.stale
                        and caster.snapshot.crucible_c is not None
                        and kiln_runner.snapshot.pv_c is not None
                    ),
                    lab,
                )
                yield lab
            finally:
                daemon.cancel()
                await asyncio.gather(daemon, return_exceptions=True)


async def _evacuate_to_pour(lab: Lab, rig: CasterRigSim, target_mbar: float) -> float:
    """One cast up to the pour; wall seconds from the pressure crossing to the pour coil."""
    caster = lab.casters["caster1"]
    start = {"caster": "caster1", "alloy": ALLOY, "piece_class": "medium", "kiln": "kiln1"}
    await lab.registry.dispatch("cast_start", start, BENCH)
    await _until("flask transfer", lambda: caster.snapshot.waiting_for == "flask_placed", lab)
    rig.io.flask_present = True
    await _until("flask seen", lambda: caster.snapshot.flask_present is True, lab)
    if rig.chamber.chamber_mbar <= target_mbar:  # vented during preflight and melt
        raise RuntimeError(f"bench cast: the chamber is still at {rig.chamber.chamber_mbar} mbar")
    confirm = {"caster": "caster1", "step": "flask_placed"}
    await lab.registry.dispatch("cast_confirm", confirm, BENCH)
    crossed: float | None = None
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not rig.io.coils.pour:
        if crossed is None and rig.chamber.chamber_mbar <= target_mbar:
            crossed = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"bench cast: no pour; {caster.snapshot}")
        await asyncio.sleep(0.001)
    poured = time.monotonic()
    assert crossed is not None, "the pour coil came on before the vacuum target"
    await lab.registry.dispatch("cast_abort", {"caster": "caster1", "reason": "bench"}, BENCH)
    await _until("idle", lambda: caster.snapshot.state == "idle", lab)
    return poured - crossed


async def bench_step_latency(row: Row, casts: int) -> None:
    """EVACUATE -> POUR: from the simulated chamber reaching the vacuum target to the pour coil."""
    alloy = load_alloy(PROFILES / "alloys" / f"{ALLOY}.toml")
    assert alloy.vacuum is not None
    rig = CasterRigSim(
        "vacuum",
        solidus_c=alloy.solidus_c,
        liquidus_c=alloy.liquidus_c,
        charge_g=100.0,
        start_c=alloy.pour_temp_c,  # a hot start: the melt only has to settle
    )
    t0 = time.monotonic()
    async with _caster_lab(rig, alloy.flask.medium_c) as lab:
        latencies = [
            await _evacuate_to_pour(lab, rig, alloy.vacuum.target_mbar) for _ in range(casts)
        ]
    median, worst = statistics.median(latencies), max(latencies)
    row(
        "(g) sequence step EVACUATE -> POUR (vacuum reached -> pour coil)",
        f"median {median * 1000:.0f} / max {worst * 1000:.0f} ms over {casts} casts",
        f"control tick {TICK_S * 1000:.0f} ms",
        f"{median / TICK_S:.2f} / {worst / TICK_S:.2f} ticks (expected <= 1-2); "
        f"{time.monotonic() - t0:.0f} s wall",
    )
