"""The fault matrix (issue 7 item 2): every fault the simulators inject, in every phase where it
can happen, as one table that both the HIL tests (``test_fault_matrix.py``) and the README's
rendering (``python -m hil_tests.support.fault_matrix --markdown``) read, so they cannot drift.

A row is a fault; its columns are the phases of a burnout and of a cast. A cell either exists
(the test drives a fresh run or cast to that phase, injects the fault and checks the safe state,
the honest outcome, the alarm, the ledger record and the telemetry) or is n/a with the reason.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Inject = Callable[[Any], None]  # called with the rig (conftest.Rig or caster_support.CasterRig)
Injections = tuple[Inject, Inject]
BURNOUT = ("ramp", "hold", "final_hold")
CAST = ("melt", "transfer", "pour", "hold")
TITLES = {
    "burnout": {"ramp": "ramp", "hold": "hold/soak", "final_hold": "final hold"},
    "cast": {"melt": "melt", "transfer": "flask transfer / balance",
             "pour": "evacuate+pour / spin-up", "hold": "vacuum hold / spin hold+brake"},
}  # fmt: skip
STALE = ("no reading", "stale", "comms")  # how the kiln names a controller it cannot read


@dataclass(frozen=True)
class Cells:
    """How a fault is injected into one machine, and which of its phases it applies to."""

    inject: Inject
    restore: Inject
    reasons: tuple[str, ...]  # the outcome names the fault with one of these
    skip: Mapping[str, str] = field(default_factory=dict)  # phase -> why the cell is n/a
    kind: Literal["kiln", "vacuum", "centrifugal"] = "kiln"
    transport: Literal["tcp", "rtu"] = "tcp"
    faults: bool = True  # False: the run must neither fault nor end early (a clock jump)
    disk: bool = False  # the lab's state directory is a small file system; see FULL_DISK
    # inject only once the simulator (read in-process, at once before) shows this: a fault
    # whose effect a later step would undo must land in its phase, not a status read late
    at: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Fault:
    """One row: a fault, its burnout cells and its cast cells (or why there are none)."""

    name: str
    title: str
    burnout: Cells | str
    cast: Cells | str

    def cells(self, machine: Literal["burnout", "cast"]) -> list[str]:
        """The phases of ``machine`` this row has a cell in."""
        part = self.burnout if machine == "burnout" else self.cast
        if isinstance(part, str):
            return []
        return [p for p in (BURNOUT if machine == "burnout" else CAST) if p not in part.skip]


def toggle(device: str | None, fault: str, on: object = True, off: object = False) -> Injections:
    """Inject by calling backdoor ``fault(on)`` of the kiln (``device`` None) or of
    ``device`` of the caster; restore with ``fault(off)``.
    """

    def call(value: object) -> Inject:
        def inject(rig: Any) -> None:
            sim = rig.sim if device is None else getattr(rig.sim, device)
            getattr(sim.backdoor, fault)(value)

        return inject

    return call(on), call(off)


def _once(device: str | None, fault: str, *args: object) -> Injections:
    """A fault with no restore: a reboot, a drive trip (cleared at its keypad afterwards)."""

    def inject(rig: Any) -> None:
        sim = rig.sim if device is None else getattr(rig.sim, device)
        getattr(sim.backdoor, fault)(*args)

    def restore(rig: Any) -> None:
        if device == "drive":
            rig.sim.drive.trip_code = 0  # a technician clears the held trip at the keypad

    return inject, restore


def _pumping(sim: Any) -> bool:
    """The I/O module holds the pump on: the cast is between evacuation and vent. A reboot
    after the vent's write would drop the coils into the very values it asked for (CI once
    injected there, a status read late, and saw 'completed', which was then right).
    """
    return bool(sim.io.coils.pump)


def _nothing(_: Any) -> None:
    """Nothing to restore."""


def _leak(rate: float) -> Inject:
    return lambda rig: rig.sim.leak(rate)


def _fill_disk(rig: Any) -> None:
    """The state directory's file system fills up (fault_matrix_labs mounts a small one)."""
    with (rig.tmp / "state" / "filler").open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(bytes(1 << 20))
            out.flush()


def _free_disk(rig: Any) -> None:
    (rig.tmp / "state" / "filler").unlink(missing_ok=True)


def _clock_jump(rig: Any) -> None:
    """The daemon host's wall clock steps a day ahead (hil_tests.support.fault_matrix_checks)."""
    os.kill(rig.daemon.proc.pid, signal.SIGUSR2)


MELT_TIMEOUT = (
    "not run (time budget): only the melt timeout catches it, after 45 simulated min (55 s "
    "wall at 50x); run by hand it ends 'faulted: melt: the metal did not reach 1025 °C ...'"
)
DEAD_CRUCIBLE = "not run: after the melt a dead element only lets the melt cool (untested here)"
BEFORE_SPIN = "the arm stands still before the spin"
VENTED = "the chamber is vented until the evacuation"
PUMP_OFF = "the pump is off until the evacuation"
PULL_DOWN = "not run: during the pull-down a leak shows as vacuum not reached in time"
FULL_DISK = (
    "allowing for the full disk: the outcome is read from the status (the run store cannot keep "
    "it); the trip or cast record may be missing from the ledger if a lab alarm says it is NOT in "
    "it (the ledger audits once freed); points offered while full may be dropped if counted"
)
STARTS_AGAIN = "no new start"  # how a cell fails when its machine starts nothing afterwards
STORE = ("disk", "run store")
WAITING_WRITES_NOTHING = (
    "nothing is written while the caster waits for a person: the full disk ends the cast at "
    "the confirmation's write, or the confirmation timeout ends it first, naming that"
)
IO_ALL_OFF = "the module's coils are all off here, as at power-on: nothing changes"
SHORT_HOLD = (
    "not run: the rig's vacuum hold lasts 1.8 s of wall time, often over before a reboot is "
    "injected and read back (CI saw 'completed'); a module rebooting then drops the coils into "
    "the very state the vent that follows asks for; a reboot during the pour is proven"
)
# fmt: off
MATRIX: tuple[Fault, ...] = (
    Fault("sensor-break", "thermocouple open (sensor break)",
          Cells(*toggle(None, "open_thermocouple"), ("sensor break",)),
          Cells(*toggle("crucible", "open_thermocouple"), ("crucible thermocouple",),
                kind="vacuum")),
    Fault("stuck-relay", "heater contactor welded (runaway)",
          Cells(*toggle(None, "stick_relay"), ("runaway", "over-temperature")),
          Cells(*toggle("crucible", "stick_relay"), ("crucible over temperature",), kind="vacuum")),
    Fault("heating-stall", "heating element burnt out (stall)",
          Cells(*toggle(None, "fail_heater"), ("stall",)),
          Cells(*toggle("crucible", "fail_heater"), ("did not reach",), kind="vacuum",
                skip={"melt": MELT_TIMEOUT} | dict.fromkeys(CAST[1:], DEAD_CRUCIBLE))),
    Fault("link-loss", "cable pulled (no connection)",
          Cells(*toggle(None, "comms_loss"), STALE),
          Cells(*toggle("crucible", "comms_loss"), ("crucible1",), kind="vacuum")),
    Fault("silent-device", "device stops answering, link up",
          Cells(*toggle(None, "silent"), STALE),
          Cells(*toggle("io", "silent"), ("io1",), kind="vacuum")),
    Fault("slow-replies", "every reply 1 s (wall) late",
          Cells(*toggle(None, "slow_replies", 1.0, 0.0), STALE),
          Cells(*toggle("io", "slow_replies", 1.0, 0.0), ("io1",), kind="vacuum")),
    Fault("crc-errors", "RTU replies with a bad CRC (pty)",
          Cells(*toggle(None, "corrupt_crc"), STALE, transport="rtu"),
          "the caster's Modbus devices are on TCP in the rig (no CRC); its serial ASCII devices "
          "get line noise instead (garbled-replies)"),
    Fault("garbled-replies", "serial ASCII replies corrupted (line noise)",
          "the kiln controller speaks Modbus: its line noise is a bad CRC (crc-errors)",
          Cells(*toggle("tc", "garble"), ("tc1",), kind="vacuum")),
    Fault("device-reboot", "power cycle: volatile registers back to power-on values",
          Cells(*_once(None, "reboot"), ("reboot", "power-on")),
          Cells(*_once("io", "reboot"), ("io1", "I/O module outputs changed"), kind="vacuum",
                skip={**dict.fromkeys(("melt", "transfer"), IO_ALL_OFF), "hold": SHORT_HOLD},
                at=_pumping)),
    Fault("vacuum-leak", "chamber leak (5000 mbar·l/s)",
          "a burnout has no vacuum",
          Cells(_leak(5000.0), _leak(0.0), ("vacuum lost",), kind="vacuum",
                skip={"melt": VENTED, "transfer": VENTED, "pour": PULL_DOWN})),
    Fault("pump-failure", "vacuum pump fails (no aux contact)",
          "a burnout has no vacuum pump",
          Cells(*toggle("io", "fail_pump"), ("vacuum pump failure",), kind="vacuum",
                skip={"melt": PUMP_OFF, "transfer": PUMP_OFF})),
    Fault("drive-fault", "VFD trips (fault code 7)",
          "a burnout has no drive",
          Cells(*_once("drive", "drive_fault", 7), ("drive fault (code 7)",), kind="centrifugal",
                skip={"melt": BEFORE_SPIN, "transfer": BEFORE_SPIN})),
    Fault("lid-open", "caster lid opened",
          "labctl reads no kiln door: a kiln in the site config has no door input",
          Cells(*toggle("io", "open_lid"), ("lid",), kind="centrifugal",
                skip={"transfer": "the lid is open by design while a person loads and balances"})),
    Fault("e-stop", "emergency stop pressed",
          "labctl reads no kiln e-stop: the kiln's own limit controller and contactor act on it",
          Cells(*toggle("io", "press_estop"), ("e-stop pressed",), kind="vacuum")),
    Fault("disk-full", "the state directory's file system is full (ENOSPC)",
          Cells(_fill_disk, _free_disk, STORE, disk=True),
          Cells(_fill_disk, _free_disk, STORE, kind="vacuum", disk=True,
                skip={"transfer": WAITING_WRITES_NOTHING})),
    Fault("clock-jump", "the host's wall clock steps a day ahead (NTP step)",
          Cells(_clock_jump, _nothing, (), faults=False),
          Cells(_clock_jump, _nothing, (), kind="vacuum", faults=False)),
)
# fmt: on


def markdown(matrix: tuple[Fault, ...] = MATRIX) -> str:
    """The matrix as a markdown table: ✓ a cell the HIL suite proves (✓ (n): with the allowances
    of note n) and — (n) n/a, each with a numbered note.
    """
    phases = [("burnout", p) for p in BURNOUT] + [("cast", p) for p in CAST]
    notes: dict[str, int] = {}

    def note(text: str) -> int:
        return notes.setdefault(text, len(notes) + 1)

    head = "| fault | " + " | ".join(f"{m}: {TITLES[m][p]}" for m, p in phases) + " |"
    rows = [head, "|" + "---|" * (len(phases) + 1)]
    for fault in matrix:
        cells = []
        for machine, phase in phases:
            part = fault.burnout if machine == "burnout" else fault.cast
            if isinstance(part, str):
                cells.append(f"— ({note(part)})")
            elif phase in part.skip:
                cells.append(f"— ({note(part.skip[phase])})")
            elif part.disk:
                cells.append(f"✓ ({note(FULL_DISK)})")
            else:
                cells.append("✓" if part.faults else "✓ no fault, no early end")
        rows.append(f"| **{fault.name}**: {fault.title} | " + " | ".join(cells) + " |")
    listed = [f"{n}. {text}" for text, n in notes.items()]
    run = "`.venv/bin/pytest -q -p no:cacheprovider hil_tests/test_fault_matrix.py`"
    return "\n".join([*rows, "", *listed, "", f"Run it: {run}"]) + "\n"


if __name__ == "__main__" and sys.argv[1:] == ["--markdown"]:
    sys.stdout.write(markdown())
