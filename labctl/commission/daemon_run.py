"""Commissioning from the running daemon: what the touchscreen's supervisor screen starts.

``labctl commission`` refuses while the daemon runs (the daemon owns every bus and serial line
and the ledger's one writer), so the daemon commissions a device itself. :meth:`Commissioner.start`
checks that the device's machine is idle (no run or cast, nothing left to recover) and that no
other commissioning runs, then returns at once (a lease check takes a minute, longer than any
client waits) while a job, in the background:

1. pauses the machine's loop (:meth:`labctl.runs.loop.MachineLoop.paused`: between two ticks;
   it then touches no device and refuses every command, saying why);
2. runs :func:`labctl.commission.runner.commission_device` through the daemon's own bus
   handles and serial lines (the same ones the machine uses);
3. signs the record into the daemon's ledger and refreshes the gate, so a passing record
   clears the machine's standing "not commissioned" alarm.

The ``commissioning`` query shows each device's last job: its checks so far, then its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field

from drivers._modbus.device import ModbusDevice
from drivers._serial.line import Line
from drivers.clock import Clock
from drivers.errors import DriverError
from labctl.cast.runner import CasterRunner
from labctl.commands.registry import CommandRefused
from labctl.commission.record import SiteDevice, UnknownDevice, resolve
from labctl.commission.runner import DeviceAccess, commission_device
from labctl.config.site import SiteConfig
from labctl.errors import LabctlError
from labctl.kiln.runner import KilnRunner
from labctl.ledger.ops_records import DeviceCheck
from labctl.ledger.service import LedgerService
from labctl.runs.loop import MachineLoop, describe

log = logging.getLogger(__name__)


@dataclass
class Job:
    """One commissioning started from the daemon; ``outcome`` is None while it runs."""

    device: str
    who: str
    started_wall: float
    checks: list[dict[str, object]] = field(default_factory=list)
    outcome: str | None = None  # passed / failed: CHECKS / refused: WHY / not done: WHY

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class LabLinks:
    """:class:`DeviceAccess` over the daemon's own bus handles and serial lines."""

    modbus_device: Callable[[str], ModbusDevice]
    serial_line: Callable[[str], Line]

    def modbus(self, config_name: str) -> ModbusDevice:
        return self.modbus_device(config_name)

    def line(self, line_name: str) -> Line:
        return self.serial_line(line_name)


def machine_busy(machine: MachineLoop) -> str | None:
    """Why ``machine`` is not idle now (a run, a cast, a recovery), or None."""
    if isinstance(machine, KilnRunner) and machine.snapshot.run_id is not None:
        return f"runs run {machine.snapshot.run_id}"
    if isinstance(machine, CasterRunner) and machine.snapshot.cast_id is not None:
        return f"runs cast {machine.snapshot.cast_id}"
    return machine.busy_reason()


class Commissioner:
    """Starts commissioning jobs, one at a time, and keeps each device's last one."""

    def __init__(
        self,
        site: SiteConfig,
        machines: Mapping[str, MachineLoop],
        access: DeviceAccess,
        clock: Clock,
        ledger: LedgerService | None,
        after: Callable[[], Awaitable[None]],
    ) -> None:
        """``after`` runs once a record is signed (the gate reads the records again)."""
        self._site, self._machines, self._access = site, machines, access
        self._clock, self._ledger, self._after = clock, ledger, after
        self.jobs: dict[str, Job] = {}  # device -> its last job
        self._task: asyncio.Task[None] | None = None
        self._running: Job | None = None

    def start(self, device: str, who: str) -> Job:
        """Start commissioning ``device`` for ``who``; CommandRefused says why not."""
        try:
            dev = resolve(self._site, device)
        except UnknownDevice as err:
            raise CommandRefused(str(err)) from None
        if self._ledger is None:
            raise CommandRefused("the site has no [ledger] to sign a commissioning record into")
        if self._running is not None:
            running = self._running
            raise CommandRefused(f"{running.device} is being commissioned by {running.who}")
        busy = machine_busy(self._machines[dev.machine])
        if busy is not None:
            raise CommandRefused(f"{dev.machine} {busy}: commission it when it is idle")
        job = Job(dev.device, who, self._clock.wall())
        self.jobs[dev.device] = self._running = job
        self._task = asyncio.create_task(self._run(job, dev), name=f"commission[{dev.device}]")
        log.info("commissioning %s started by %s", dev.device, who)
        return job

    async def _run(self, job: Job, dev: SiteDevice) -> None:
        try:
            job.outcome = await self._commission(job, dev)
        except asyncio.CancelledError:
            job.outcome = "not done: the daemon stopped"
            raise
        except CommandRefused as refused:
            job.outcome = f"refused: {refused.reason}"
        except (LabctlError, DriverError) as err:
            job.outcome = f"not done: {err}"
        except Exception as err:  # a bug: the job ends, the daemon and the machine go on
            log.exception("commissioning %s failed", dev.device)
            job.outcome = f"not done: internal error: {describe(err)}"
        finally:
            self._running = None
        log.info("commissioning %s (by %s): %s", dev.device, job.who, job.outcome)

    async def _commission(self, job: Job, dev: SiteDevice) -> str:
        assert self._ledger is not None  # start() refuses without one
        machine = self._machines[dev.machine]

        def seen(check: DeviceCheck) -> None:
            job.checks.append(check.model_dump(mode="json"))

        why = f"{dev.device} is being commissioned by {job.who}; try again when it ends"
        async with machine.paused(why):
            busy = machine_busy(machine)  # a command taken just before the pause
            if busy is not None:
                return f"refused: {dev.machine} {busy}"
            record = await commission_device(
                self._site, dev.device, access=self._access, clock=self._clock, who=job.who,
                on_check=seen,
            )  # fmt: skip
        await self._ledger.record(record)
        await self._after()
        failed = [c.name for c in record.checks if not c.passed]
        return "passed" if record.passed else f"failed: {', '.join(failed)}"

    async def close(self) -> None:
        """At shutdown, before the machines are driven safe: a running job is cancelled."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
