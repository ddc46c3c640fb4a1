"""``labctl demo``: the daemon against a simulated kiln over loopback Modbus TCP, accelerated.

Starts a simulated Eurotherm 3216P kiln with an invested flask, the real daemon (bus, driver,
interlocks, program engine, run store, command registry) on a scaled clock, starts a burnout,
prints a live progress line, takes the flask when the kiln has soaked at casting temperature,
and ends with a summary of the run and its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.app import build_lab, run_lab
from labctl.commands import Caller, CommandRefused, Role
from labctl.config import load_site
from labctl.snapshot import KilnSnapshot

PROFILES = Path(__file__).resolve().parent.parent / "profiles"
FINAL_SOAK_S = 20 * 60.0  # demo technician takes the flask after 20 simulated minutes
PRINT_EVERY_S = 1.0  # wall seconds between progress lines
DEMO = Caller(name="demo", role=Role.SUPERVISOR)

SITE = """
[lab]
name = "labctl demo"
state_dir = "{state}"
tick_s = {tick}
clock_speed = {speed}
clock_epoch = {epoch}
profiles_dir = "{profiles}"

[buses.demo_link]
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[devices.kiln1_tc]
family = "eurotherm3200"
bus = "demo_link"
unit = 1

[kilns.kiln1]
controller = "kiln1_tc"
mode = "{mode}"
max_temp_c = 800
"""


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m"


def _line(s: KilnSnapshot, core_c: float, wall_s: float) -> str:
    def t(v: float | None) -> str:
        return "   —   " if v is None else f"{v:6.1f}°C"

    return (
        f"[{wall_s:5.1f}s] {s.state:<10} {s.segment[:42]:<42} SP {t(s.setpoint_c)}  "
        f"PV {t(s.pv_c)}  flask core {t(core_c)}  out {s.output_pct or 0:5.1f}%  "
        f"ETA {_hms(s.eta_s)}"
    )


async def run_demo(
    *, mode: str, speed: float, profile: str, flask: Literal["small", "large", "none"]
) -> int:
    """Run the demo; returns 0 when the run completed, 1 otherwise."""
    clock = ScaledClock(speed, epoch=time.time())
    tick_s = max(2.0, speed * 0.02)  # about 50 control ticks per wall second
    # the remote-setpoint lease: half a wall second of silence and the controller falls back
    sim = Eurotherm3200Sim(SimOptions(flask=flask, comms_timeout_s=max(4 * tick_s, speed / 2)))
    with tempfile.TemporaryDirectory(prefix="labctl-demo-") as tmp:
        async with sim.serving(clock=clock, unit=1, tcp_port=0) as endpoint:
            site_file = Path(tmp) / "site.toml"
            site_file.write_text(
                SITE.format(
                    state=Path(tmp) / "state",
                    tick=tick_s,
                    speed=speed,
                    epoch=time.time(),
                    profiles=PROFILES,
                    port=endpoint.port,
                    mode=mode,
                )
            )
            site = load_site(site_file)
            print(
                f"labctl demo: simulated kiln at 127.0.0.1:{endpoint.port} (Modbus TCP), "
                f"{mode} mode, {speed:g}x time, profile {profile}"
            )
            lab = await build_lab(site, clock)
            ready = asyncio.Event()
            daemon = asyncio.create_task(run_lab(lab, ready=ready), name="demo.daemon")
            try:
                await ready.wait()
                return await _drive(lab, sim, clock, profile)
            finally:
                daemon.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await daemon


async def _drive(lab: object, sim: Eurotherm3200Sim, clock: ScaledClock, profile: str) -> int:
    from labctl.app import Lab

    assert isinstance(lab, Lab)
    runner = lab.runners["kiln1"]
    start_wall = time.monotonic()
    while runner.snapshot.pv_c is None:
        await asyncio.sleep(0.05)
    try:
        started = await lab.registry.dispatch("start", {"kiln": "kiln1", "profile": profile}, DEMO)
    except CommandRefused as refused:
        print(f"could not start: {refused.reason}", file=sys.stderr)
        return 1
    run_id = started["run_id"]
    t0, final_since, next_print = clock.now(), None, 0.0
    peak_pv = peak_core = 0.0
    while True:
        await asyncio.sleep(0.05)
        snap, wall = runner.snapshot, time.monotonic() - start_wall
        peak_pv = max(peak_pv, snap.pv_c or 0.0)
        peak_core = max(peak_core, sim.flask_core_c)
        if wall >= next_print:
            print(_line(snap, sim.flask_core_c, wall), flush=True)
            next_print = wall + PRINT_EVERY_S
        if snap.run_id is None and snap.outcome is not None:
            break
        if snap.state == "final_hold":
            final_since = final_since if final_since is not None else clock.now()
            if clock.now() - final_since >= FINAL_SOAK_S:
                print(f"[{wall:5.1f}s] technician takes the flask at {snap.pv_c:.0f} °C")
                await lab.registry.dispatch("take_flask", {"kiln": "kiln1"}, DEMO)
    sim_s, wall = clock.now() - t0, time.monotonic() - start_wall
    history = await lab.store.history(limit=1)
    events = await lab.store.events(int(str(run_id)))
    print()
    print(f"run {run_id} ({profile}): {snap.outcome}")
    print(f"  simulated time {_hms(sim_s)} in {wall:.1f} s wall ({sim_s / wall:.0f}x real time)")
    print(f"  peak kiln PV {peak_pv:.1f} °C, peak flask core {peak_core:.1f} °C")
    print(f"  EEPROM setpoint writes during the run: {sim.eeprom_writes}")
    print(f"  run store: {len(history)} run(s), {len(events)} event(s) recorded")
    return 0 if snap.outcome == "completed" else 1
