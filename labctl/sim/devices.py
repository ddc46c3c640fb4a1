"""The devices of a served rig as its control API sees them: name, state and actions.

A rig's addressable devices are each kiln controller (named as in the rig file), each caster
(``caster1``: a person's acts and the chamber) and each device of a caster
(``caster1.crucible``, ``caster1.io``, ``caster1.tc``, ``caster1.gauge`` or ``caster1.drive``).
A device's state is what its simulator holds right now (temperatures, coils, pressure, rpm), its
``endpoint`` where the daemon reaches it, and ``faults`` the fault flags its backdoor holds; its
actions are its backdoor's methods (:mod:`labctl.sim.actions`). A caster's own actions are what a
person does to it, plus a vacuum leak.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from drivers._sim.caster_rig import CasterEndpoints, CasterRigSim
from drivers._sim.server import Endpoint
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from labctl.sim.actions import Action, backdoor_actions, backdoor_flags, method_action

State = dict[str, object]
GAUGE_CHANNELS = (1, 2)  # a TPG 362 has two
DRIVE_READINGS = ("output_on", "output_hz", "run_command", "trip_code", "warning_code")


@dataclass(frozen=True, slots=True)
class RigDevice:
    """One addressable device of the rig."""

    family: str
    state: Callable[[], State]
    actions: Mapping[str, Action]
    backdoor: object | None = None
    endpoint: Endpoint | None = None

    def describe(self) -> State:
        """The device's JSON state: family, endpoint, state and active-fault flags."""
        out: State = {"family": self.family}
        if self.endpoint is not None:
            out["endpoint"] = {
                "tcp_port": self.endpoint.port,
                "pty": None if self.endpoint.path is None else str(self.endpoint.path),
            }
        out["state"] = self.state()
        if self.backdoor is not None:
            out["faults"] = backdoor_flags(self.backdoor)
        return out


def _device(
    family: str, backdoor: object, state: Callable[[], State], endpoint: Endpoint | None
) -> RigDevice:
    return RigDevice(family, state, backdoor_actions(backdoor), backdoor, endpoint)


def kiln_device(sim: Eurotherm3200Sim, endpoint: Endpoint) -> RigDevice:
    """A kiln's Eurotherm 3216 and the kiln it heats."""

    def state() -> State:
        readings = _read(sim, "pv_c", "flask_core_c", "working_sp_c", "output_pct")
        return readings | {"programmer": sim.tstat.name.lower()}

    return _device("eurotherm3200", sim.backdoor, state, endpoint)


def caster_devices(name: str, rig: CasterRigSim, ep: CasterEndpoints) -> dict[str, RigDevice]:
    """The caster ``name`` and each of its devices, keyed by their API names."""
    crucible, io, gauge, drive = rig.crucible, rig.io, rig.gauge, rig.drive

    def crucible_state() -> State:
        return _read(crucible, "pv_c", "melt_fraction", "sp_c", "output_pct", "stopped", "manual")

    def io_state() -> State:
        return {
            "coils": dataclasses.asdict(io.coils),
            "loads": dataclasses.asdict(io.loads),
            "inputs": _read(io, "lid_closed", "flask_present", "estop_ok", "arm_stopped"),
            "watchdog_tripped": io.watchdog_tripped,
        }

    devices = {
        name: RigDevice("caster", lambda: _caster_state(rig), _person_actions(rig)),
        f"{name}.crucible": _device("omron_e5cc", crucible.backdoor, crucible_state, ep.crucible),
        f"{name}.io": _device("iomodule", io.backdoor, io_state, ep.io),
        f"{name}.tc": _device(
            "adam4018", rig.tc.backdoor, lambda: {"channels": rig.tc.values()}, Endpoint(path=ep.tc)
        ),
    }
    if gauge is not None:

        def gauge_state() -> State:
            status = {str(ch): gauge.status(ch) for ch in GAUGE_CHANNELS}
            return {
                "chamber_mbar": rig.chamber.chamber_mbar,
                "sensor_status": {ch: None if s is None else s.text for ch, s in status.items()},
            }

        devices[f"{name}.gauge"] = _device(
            "tpg36x", gauge.backdoor, gauge_state, Endpoint(path=ep.gauge)
        )
    if drive is not None:
        devices[f"{name}.drive"] = _device(
            "delta_vfd",
            drive.backdoor,
            lambda: _read(drive, *DRIVE_READINGS) | {"rpm": drive.arm.rpm},
            ep.drive,
        )
    return devices


def _read(sim: object, *names: str) -> State:
    """The simulator's attributes ``names``, by name."""
    return {name: getattr(sim, name) for name in names}


def _caster_state(rig: CasterRigSim) -> State:
    io = rig.io
    state: State = {
        "kind": rig.kind,
        **_read(io, "flask_present", "lid_closed", "estop_ok"),
        "crucible_c": rig.crucible.pv_c,
        "melt_fraction": rig.crucible.melt_fraction,
    }
    if rig.kind == "vacuum":
        state |= {
            "chamber_mbar": rig.chamber.chamber_mbar,
            "flask_mbar": rig.chamber.flask_mbar,
            "leak_mbar_l_per_s": rig.chamber.leak_mbar_l_per_s,
        }
    if rig.drive is not None:
        state |= {"rpm": rig.drive.arm.rpm, "arm_stopped": io.arm_stopped}
    return state


def _person_actions(rig: CasterRigSim) -> dict[str, Action]:
    """What a person does at the caster (the I/O module's switches), and a vacuum leak."""
    io = rig.io.backdoor
    acts: list[tuple[str, Callable[[bool], None], bool, str]] = [
        ("place_flask", io.remove_flask, False, "Put the flask in: the flask switch closes."),
        ("remove_flask", io.remove_flask, True, "Take the flask out: the flask switch opens."),
        ("press_estop", io.press_estop, True, "Press the e-stop: the actuators lose power."),
        ("release_estop", io.press_estop, False, "Release the e-stop: the chain closes."),
        ("open_lid", io.open_lid, True, "Open the lid: the lid-closed switch opens."),
        ("close_lid", io.open_lid, False, "Close the lid: the lid-closed switch closes."),
    ]
    actions = {
        name: Action(name, doc, lambda act=act, on=on: act(on)) for name, act, on, doc in acts
    }
    if rig.kind == "vacuum":
        actions["leak"] = method_action(rig.leak)
    return actions
