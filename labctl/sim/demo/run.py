"""``labctl demo``: the daemon against a simulated lab over loopback Modbus TCP and ptys.

Starts a simulated Eurotherm 3216P kiln with an invested flask (its core read by an ADAM-4018
probe, as a lab's dummy flask) and a simulated caster (E5CC crucible, ADAM-4018, I/O module,
TPG gauge or Delta drive), the real daemon (buses, drivers,
interlocks, program engine, cast sequences, run store, command registry) on a scaled clock,
runs a burnout for the chosen alloy and piece class with a live progress line, then slows the
clock and casts the flask, and ends with a summary of the run and the cast.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from drivers._sim.caster_rig import CasterRigSim
from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from labctl.commands.registry import Caller, CommandRefused
from labctl.config.site import load_site
from labctl.config.users import Role
from labctl.daemon.app import Lab, build_lab
from labctl.daemon.run import run_lab
from labctl.errors import ProfileError
from labctl.kiln.snapshot import KilnSnapshot
from labctl.ledger import keys
from labctl.profiles.alloys import Alloy, load_alloy
from labctl.sim.demo.cast import certify, run_cast, sign_records
from labctl.sim.demo.records import demo_records
from labctl.sim.site import LEDGER_ORIGIN, RIG_PEOPLE, rig_site, ui_site

PROFILES = Path(__file__).resolve().parents[3] / "profiles"
FINAL_SOAK_S = 20 * 60.0  # demo technician takes the flask after 20 simulated minutes
CAST_SPEED = 30.0  # casting happens in minutes, not hours: the clock slows down for it
PRINT_EVERY_S = 1.0  # wall seconds between progress lines
DEMO = Caller(name="demo", role=Role.SUPERVISOR)


def _print_touchscreen(port: int) -> None:
    print(f"touchscreen: http://127.0.0.1:{port}/  sign in with", end="")
    print("; ".join(f" badge {b} PIN {pin} ({role})" for role, b, pin in RIG_PEOPLE.values()))


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m = int(seconds // 60)
    return f"{m // 60}h{m % 60:02d}m"


def _line(s: KilnSnapshot, wall_s: float) -> str:
    def t(v: float | None) -> str:
        return "   —   " if v is None else f"{v:6.1f}°C"

    return (
        f"[{wall_s:5.1f}s] {s.state:<10} {s.segment[:42]:<42} SP {t(s.setpoint_c)}  "
        f"PV {t(s.pv_c)}  flask core {t(s.flask_core_c)}  out {s.output_pct or 0:5.1f}%  "
        f"ETA {_hms(s.eta_s)}"
    )


async def run_demo(
    *,
    mode: str,
    speed: float,
    profile: str,
    flask: Literal["small", "large", "none"],
    alloy: str = "gold-18k-yellow",
    piece_class: Literal["thin", "medium", "heavy"] = "medium",
    cast: Literal["vacuum", "centrifugal", "none"] = "vacuum",
    keep_certificate: Path | None = None,
    ui_port: int | None = None,
) -> int:
    """Run the demo; returns 0 when the burnout (and the cast, if any) completed.

    With ``ui_port``, the touchscreen is served on 127.0.0.1 during the demo and stays up
    (with the simulated lab) after it until Ctrl-C.
    """
    epoch = time.time()
    clock = ScaledClock(speed, epoch=epoch)
    tick_s = max(2.0, speed * 0.02)  # about 50 control ticks per wall second
    # the remote-setpoint lease: half a wall second of silence and the controller falls back
    sim = Eurotherm3200Sim(SimOptions(flask=flask, comms_timeout_s=max(4 * tick_s, speed / 2)))
    probe = Adam4018Sim(lambda: [sim.flask_core_c])  # a thermocouple in the flask's core
    try:
        metal = load_alloy(PROFILES / "alloys" / f"{alloy}.toml")
    except ProfileError as err:
        print(f"labctl demo: {err}", file=sys.stderr)
        return 2
    caster = (
        None
        if cast == "none"
        else CasterRigSim(
            cast, solidus_c=metal.solidus_c, liquidus_c=metal.liquidus_c, charge_g=150.0
        )
    )
    with tempfile.TemporaryDirectory(prefix="labctl-demo-") as tmp:
        async with contextlib.AsyncExitStack() as stack:
            endpoint = await stack.enter_async_context(sim.serving(clock=clock, tcp_port=0))
            flask_tc = await stack.enter_async_context(
                probe.serving(clock=clock, pty_link=Path(tmp) / "flask_tc")
            )
            ports = None
            if caster is not None:
                ports = await stack.enter_async_context(
                    caster.serving(clock=clock, pty_dir=Path(tmp))
                )
            assert endpoint.port is not None
            ledger_key = Path(tmp) / "ledger.key"
            if caster is not None:  # only a cast is signed into the ledger
                keys.generate(ledger_key, LEDGER_ORIGIN)
            site_file = Path(tmp) / "site.toml"
            site_file.write_text(
                rig_site(
                    state=Path(tmp) / "state", profiles=PROFILES, speed=speed, epoch=epoch,
                    tick_s=tick_s, kiln_port=endpoint.port, mode=mode, flask_tc=flask_tc,
                    caster=ports, name="labctl-demo",
                    ledger_key=None if caster is None else ledger_key,
                )
                + ("" if ui_port is None else ui_site(ui_port))
            )  # fmt: skip
            print(
                f"labctl demo: simulated kiln at 127.0.0.1:{endpoint.port} (Modbus TCP), "
                f"{mode} mode, {speed:g}x time, profile {profile} for {alloy} ({piece_class})"
            )
            lab = await build_lab(load_site(site_file), clock)
            ready = asyncio.Event()
            daemon = asyncio.create_task(run_lab(lab, ready=ready), name="demo.daemon")
            try:
                await ready.wait()
                if ui_port is not None:
                    _print_touchscreen(ui_port)
                code = await _drive(
                    lab, sim, caster, clock, profile, metal, piece_class, keep_certificate
                )
                if ui_port is not None:
                    print("the simulated lab stays up for the touchscreen; Ctrl-C to stop")
                    await asyncio.Event().wait()
                return code
            finally:
                daemon.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await daemon


async def _drive(
    lab: Lab,
    sim: Eurotherm3200Sim,
    caster: CasterRigSim | None,
    clock: ScaledClock,
    profile: str,
    metal: Alloy,
    piece_class: Literal["thin", "medium", "heavy"],
    keep_certificate: Path | None,
) -> int:
    runner, alloy = lab.runners["kiln1"], metal.name
    start_wall = time.monotonic()
    while runner.snapshot.pv_c is None:
        await asyncio.sleep(0.05)
    try:
        started = await lab.registry.dispatch(
            "start",
            {"kiln": "kiln1", "profile": profile, "alloy": alloy, "piece_class": piece_class},
            DEMO,
        )
    except CommandRefused as refused:
        print(f"could not start: {refused.reason}", file=sys.stderr)
        return 1
    run_id = started["run_id"]
    t0, final_since, next_print = clock.now(), None, 0.0
    peak_pv = peak_core = 0.0
    burnout_s = burnout_wall = 0.0
    certified = True
    cast_outcome: str | None = None
    while True:
        await asyncio.sleep(0.05)
        snap, wall = runner.snapshot, time.monotonic() - start_wall
        peak_pv = max(peak_pv, snap.pv_c or 0.0)
        peak_core = max(peak_core, snap.flask_core_c or 0.0)
        if wall >= next_print:
            print(_line(snap, wall), flush=True)
            next_print = wall + PRINT_EVERY_S
        if snap.run_id is None and snap.outcome is not None:
            break
        if snap.state != "final_hold":
            continue
        final_since = final_since if final_since is not None else clock.now()
        if clock.now() - final_since < FINAL_SOAK_S:
            continue
        burnout_s, burnout_wall = clock.now() - t0, wall
        if caster is None:
            print(f"[{wall:5.1f}s] technician takes the flask at {snap.pv_c:.0f} °C")
            await lab.registry.dispatch("take_flask", {"kiln": "kiln1"}, DEMO)
            continue
        await sign_records(
            lab.registry, DEMO, demo_records(alloy, piece_class, metal.metal, metal.fineness_ppt)
        )
        clock.set_speed(CAST_SPEED)
        print(f"[{wall:5.1f}s] flask soaked at {snap.pv_c:.0f} °C; clock slowed to {CAST_SPEED:g}x")
        cast_outcome = await run_cast(
            registry=lab.registry, caster=lab.casters["caster1"], sim=caster, clock=clock,
            who=DEMO, alloy=alloy, piece_class=piece_class, started=start_wall,
        )  # fmt: skip
        if runner.snapshot.run_id is not None:  # the cast never asked for the flask
            await lab.registry.dispatch("take_flask", {"kiln": "kiln1"}, DEMO)
        cast_id = lab.casters["caster1"].snapshot.last_cast_id
        certified = await certify(lab.registry, DEMO, cast_id, keep_certificate)
    history = await lab.store.history(limit=2)
    events = await lab.store.events(int(str(run_id)))
    print()
    print(f"run {run_id} ({profile} for {alloy} {piece_class}): {snap.outcome}")
    print(
        f"  simulated time {_hms(burnout_s)} in {burnout_wall:.1f} s wall "
        f"({burnout_s / max(burnout_wall, 1e-9):.0f}x real time) to the end of the flask soak"
    )
    print(f"  peak kiln PV {peak_pv:.1f} °C, peak flask core {peak_core:.1f} °C")
    print(f"  EEPROM setpoint writes during the run: {sim.eeprom_writes}")
    print(f"  run store: {len(history)} run(s) and cast(s), {len(events)} event(s) in this run")
    ok = snap.outcome == "completed" and cast_outcome in (None, "completed") and certified
    if caster is not None:
        print(f"cast: {cast_outcome}")
    return 0 if ok else 1
