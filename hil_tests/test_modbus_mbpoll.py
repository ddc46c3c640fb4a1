"""The Modbus simulators over TCP with Debian's ``mbpoll`` (libmodbus, written in C).

A third implementation next to minimalmodbus and umodbus (test_modbus_clients.py, which cites the
manuals in full): mbpoll runs as its own process, as a rig's other software would, against each
simulator's loopback port. It reads what the manual lists and compares it with the simulator's
state, writes with FC05/FC06 (its ``-v`` trace shows the reply echoing the request), decodes the
Eurotherm IEEE float itself, and reports the Eurotherm's refusal of an unlisted address.
"""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

from drivers._sim.server import Endpoint
from drivers.delta_vfd.sim import DeltaVfdSim
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from drivers.iomodule.sim import IoModuleSim
from drivers.omron_e5cc.sim import OmronE5ccSim
from hil_tests.support.modbus_clients import UNIT, Refused, served, signed

pytestmark = [pytest.mark.hil, pytest.mark.timeout(30)]

MBPOLL = shutil.which("mbpoll") or "/usr/bin/mbpoll"  # Debian's mbpoll (.ci/setup --dev)
_VALUE = re.compile(r"^\[\d+\]:\s+(\S+)\s*$", re.MULTILINE)
_SENT = re.compile(r"^((?:\[[0-9A-F]{2}\])+)\s*$", re.MULTILINE)
_RECEIVED = re.compile(r"^((?:<[0-9A-F]{2}>)+)\s*$", re.MULTILINE)
_CODES = {"Illegal function": 1, "Illegal data address": 2, "Illegal data value": 3}


class Mbpoll:
    """mbpoll run once per request (0-based PDU addresses) against a simulator's TCP port."""

    def __init__(self, endpoint: Endpoint) -> None:
        assert endpoint.port is not None
        self._options = ["-m", "tcp", "-p", str(endpoint.port), "-a", str(UNIT), "-0", "-1"]

    async def run(self, *args: str, write: tuple[int, ...] = ()) -> str:
        """Its whole output; an exception response it reports becomes :class:`Refused`."""
        proc = await asyncio.create_subprocess_exec(
            MBPOLL,
            *self._options,
            "-o",
            "2",
            *args,
            "127.0.0.1",
            *map(str, write),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), timeout=10)
        text = out.decode()
        if proc.returncode:
            codes = [code for words, code in _CODES.items() if f"failed: {words}" in text]
            if codes:
                raise Refused(codes[0])
            raise AssertionError(f"mbpoll failed ({proc.returncode}):\n{text}")
        return text

    async def read(self, table: str, address: int, count: int = 1, *opts: str) -> list[str]:
        """The values printed for ``count`` items of ``table`` (-t: 0 coil, 1 input, 4 ...)."""
        out = await self.run("-t", table, *opts, "-r", str(address), "-c", str(count))
        values = _VALUE.findall(out)
        assert len(values) == count, out
        return values

    async def write_echoed(self, table: str, address: int, value: int) -> None:
        """FC05 (coil) or FC06 (register); its ``-v`` trace shows the reply echo the request."""
        out = await self.run("-v", "-t", table, "-r", str(address), write=(value,))
        sent, received = _SENT.findall(out), _RECEIVED.findall(out)
        assert len(sent) == len(received) == 1, out
        assert received[0].replace("<", "[").replace(">", "]") == sent[0]


async def test_mbpoll_eurotherm_pv_float_setpoint_and_refusal(tmp_path):
    sim = Eurotherm3200Sim(SimOptions(flask="small", start_temp_c=412.3))
    async with served(sim, "tcp", tmp_path) as rig:
        mb = Mbpoll(rig.endpoint)
        rig.advance(1.0)
        (decimals,) = await mb.read("4", 525)  # dEc.P (HA028651 §15.5)
        scale = 10 ** int(decimals)
        (pv,) = await mb.read("4", 1)  # PV (p.81)
        assert signed(int(pv)) == round(sim.pv_c * scale)
        # IEEE region 2 x 1 + 8000h, most significant word first (HA026230 §6.1/§6.4)
        (pv_float,) = await mb.read("4:float", 0x8002, 1, "-B")
        assert abs(float(pv_float) - sim.pv_c) <= 0.5 / scale + 1e-3  # mbpoll prints %g
        await mb.write_echoed("4", 26, 4321)  # Rm.SP (p.81), FC06
        assert round(sim.bank.get("remote_sp") * scale) == 4321
        with pytest.raises(Refused) as refused:  # 10 is not listed on p.81
            await mb.read("4", 10)
        assert refused.value.code == 2


async def test_mbpoll_e5cc_command_echo_and_setpoint(tmp_path):
    sim = OmronE5ccSim()
    async with served(sim, "tcp", tmp_path) as rig:
        mb = Mbpoll(rig.endpoint)
        rig.advance(1.0)
        pv, status = await mb.read("4", 0x2000, 2)  # H175 two-byte mode: PV, status
        assert (signed(int(pv)), int(status)) == (round(sim.pv_c), int(sim.status) & 0xFFFF)
        await mb.write_echoed("4", 0x0000, 0x0001)  # communications writing on (H175 p.4-14)
        await mb.write_echoed("4", 0x0000, 0x0401)  # RAM write mode
        assert (sim.writes_enabled, sim.ram_mode) == (True, True)
        await mb.write_echoed("4", 0x2103, 880)  # SP
        assert sim.sp_c == 880.0
        assert await mb.read("4", 0x2002) == ["880"]  # internal SP


async def test_mbpoll_delta_vfd_runs_at_the_commanded_frequency(tmp_path):
    sim = DeltaVfdSim()
    async with served(sim, "tcp", tmp_path) as rig:
        mb = Mbpoll(rig.endpoint)
        rig.advance(0.1)
        await mb.write_echoed("4", 0x2001, 1500)  # 15.00 Hz (VFD-B §3.5 address list)
        await mb.write_echoed("4", 0x2000, 0x0012)  # run + FWD
        rig.advance(2.0)
        fault, status = await mb.read("4", 0x2100, 2)
        (out_freq,) = await mb.read("4", 0x2103)
        assert (int(fault), int(status) & 0b11) == (sim.trip_code, 0b11)  # running
        assert int(out_freq) == round(sim.output_hz * 100) > 0


async def test_mbpoll_io_module_coil_and_inputs(tmp_path):
    sim = IoModuleSim()
    async with served(sim, "tcp", tmp_path) as rig:
        mb = Mbpoll(rig.endpoint)
        rig.advance(0.1)
        await mb.write_echoed("0", 0, 1)  # FC05: pump on (coil 0, drivers/iomodule/NOTES.md)
        assert sim.coils.pump
        inputs = [int(v) for v in await mb.read("1", 0, 5)]  # FC02: the five switches
        pump = sim.loads.pump  # the contactor's aux contact (input 3)
        switches = (sim.lid_closed, sim.flask_present, sim.estop_ok, pump, sim.arm_stopped)
        assert inputs == [int(on) for on in switches]
