"""The daemon on a paced RS-485 line: it reads a kiln within the line budget, refuses a line the
budget does not fit, and the link's faults still reach the driver through the pacing.

The simulated 3216 answers at 9600 8N1 with its turnaround (drivers/_sim/paced_line.py), so
every transaction takes the wire time a real line would.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from drivers._modbus.device import ModbusDevice
from drivers._sim.links import Faults
from drivers.clock import real_clock
from drivers.errors import DeviceTimeout, FramingError
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from drivers.wire_time import CharFormat
from hil_tests.support.daemon import DaemonProcess
from hil_tests.support.paced import paced_3216, rtu_3216
from labctl.config.line_budget import modbus_exchanges

pytestmark = [pytest.mark.hil, pytest.mark.timeout(90)]

BAUD = 9600
SITE = """
[lab]
name = "paced"
state_dir = "{state}"
profiles_dir = "{profiles}"
tick_s = 2.0
[buses.rs485]
kind = "rtu"
port = "{port}"
baudrate = {baud}
[devices]
{devices}
[kilns]
{kilns}
"""


@pytest.fixture
def sim() -> Eurotherm3200Sim:
    """A cold 3216, its registers filled once (it is not stepped while served)."""
    kiln = Eurotherm3200Sim()
    kiln.step_to(real_clock().now())
    return kiln


@pytest.fixture
async def paced_link(tmp_path: Path, sim: Eurotherm3200Sim) -> AsyncIterator[tuple[Path, Faults]]:
    """The 3216 at unit 1 behind a paced 9600-baud pty (and its link's faults)."""
    faults = Faults()
    async with paced_3216(tmp_path / "ttyRS485", BAUD, sim=sim, faults=faults) as link:
        yield link, faults


def _site(tmp_path: Path, port: Path, kilns: int, mode: str) -> Path:
    """``kilns`` 3216 kilns at units 1.. on the paced line."""
    (tmp_path / "profiles").mkdir(exist_ok=True)
    units = range(1, kilns + 1)
    device = 'tc{n} = {{ family = "eurotherm3200", bus = "rs485", unit = {n} }}'
    kiln = 'k{n} = {{ controller = "tc{n}", mode = "{mode}", max_temp_c = 800 }}'
    devices = "\n".join(device.format(n=n) for n in units)
    machines = "\n".join(kiln.format(n=n, mode=mode) for n in units)
    state, profiles = tmp_path / "state", tmp_path / "profiles"
    path = tmp_path / "site.toml"
    path.write_text(
        SITE.format(
            state=state, profiles=profiles, port=port, baud=BAUD, devices=devices, kilns=machines
        )
    )
    return path


async def test_the_daemon_reads_its_kiln_over_the_paced_line(
    tmp_path: Path, paced_link: tuple[Path, Faults], sim: Eurotherm3200Sim
) -> None:
    link, _ = paced_link
    daemon = DaemonProcess(tmp_path, _site(tmp_path, link, kilns=1, mode="programmer"))
    await daemon.start()
    try:
        status = await daemon.wait_for(lambda s: s["kilns"][0]["pv_c"] is not None, timeout_s=30)
        assert status["kilns"][0]["pv_c"] == sim.bank.get("pv")
    finally:
        await daemon.stop()


async def test_the_daemon_refuses_a_line_the_budget_does_not_fit(
    tmp_path: Path, paced_link: tuple[Path, Faults]
) -> None:
    link, _ = paced_link
    daemon = DaemonProcess(tmp_path, _site(tmp_path, link, kilns=3, mode="stream"))
    await daemon.start()
    assert daemon.proc is not None
    code = await daemon.proc.wait()
    log = daemon.log()
    assert code == 2, log
    assert "not starting" in log and "buses.rs485" in log, log
    assert "wire time per tick at 9600 baud" in log and "Raise the baud rate" in log, log


@pytest.fixture
async def device(paced_link: tuple[Path, Faults]) -> AsyncIterator[ModbusDevice]:
    # the wire gives up before the bus: a garbled reply is told apart from silence
    async with rtu_3216(paced_link[0], BAUD, wire_timeout_s=0.5) as dev:
        yield dev


async def test_a_poll_takes_at_least_the_budgets_wire_time(device: ModbusDevice) -> None:
    """The budget is never optimistic: a real Modbus stack on the paced wire takes as long.

    One poll alone ends with the last answer, before the t3.5 that closes it on the line.
    """
    line = CharFormat(BAUD)
    _, exchanges = modbus_exchanges("eurotherm3200", max_block=125, max_fill=50, streams=False)
    wire_s = sum(ex.wire_s(line, rtu=True) for ex in exchanges) - line.rtu_silence_s
    t0 = time.monotonic()
    await device.read()
    assert time.monotonic() - t0 >= wire_s


async def test_link_faults_reach_the_driver_through_the_pacing(
    device: ModbusDevice, paced_link: tuple[Path, Faults]
) -> None:
    _, faults = paced_link
    faults.corrupt_crc = True
    with pytest.raises(FramingError):
        await device.read(("pv",))
    faults.corrupt_crc, faults.silent = False, True
    with pytest.raises(DeviceTimeout):
        await device.read(("pv",))
    faults.silent = False
    assert (await device.read(("pv",))).values["pv"] < 100
