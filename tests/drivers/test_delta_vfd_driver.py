"""Delta VFD-B: the driver against the simulated drive over a real Modbus TCP loopback, and the
request bytes it puts on the wire (captured by a bare Modbus TCP server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from drivers._modbus.bus import ModbusBus
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.transport import TcpEndpoint
from drivers.clock import VirtualClock
from drivers.delta_vfd import IDENTITY, MAP, DeltaVfd
from drivers.delta_vfd.driver import RUN_FORWARD
from drivers.delta_vfd.registers import Command, CommLossAction, Fault
from drivers.delta_vfd.sim import DeltaVfdSim
from drivers.errors import ConfigurationError
from tests.drivers.test_delta_vfd import RESET_PDU


@dataclass
class Rig:
    sim: DeltaVfdSim
    clock: VirtualClock
    drive: DeltaVfd


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    clock = VirtualClock()
    sim = DeltaVfdSim()
    async with sim.serving(clock=clock, tcp_port=0) as endpoint:
        assert endpoint.port is not None
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=endpoint.port), timeout_s=0.5)
        bus = ModbusBus(wire, name="vfd-tcp", clock=clock, timeout_s=0.5)
        device = bus.device(name="arm1", unit=1, regmap=MAP, identity=IDENTITY)
        task = asyncio.create_task(bus.run())
        try:
            drive = DeltaVfd(device, comm_timeout_s=2.0)
            await drive.connect()
            yield Rig(sim, clock, drive)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def _advance(rig: Rig, seconds: float) -> None:
    rig.clock.advance(seconds)
    rig.sim.step_to(rig.clock.now())


async def test_connect_arm_run_read_and_safe_state_through_the_bus(rig: Rig) -> None:
    assert rig.sim.bank.get("comm_fault_treatment") == CommLossAction.WARN_RAMP_STOP
    assert rig.sim.bank.get("comm_timeout") == 2.0  # armed by connect()
    assert rig.drive.max_hz == 60.0
    await rig.drive.run(30.0)
    assert rig.sim.bank.get("command") == RUN_FORWARD
    for _ in range(6):
        _advance(rig, 1.0)
        reading = await rig.drive.read()
    assert reading.running and reading.output_hz == pytest.approx(30.0, abs=0.01)
    assert 800 < reading.rpm < 900 and reading.fault_code == 0
    await rig.drive.safe_state()
    assert rig.sim.bank.get("command") == Command.STOP
    _advance(rig, 1.0)
    reading = await rig.drive.read()
    assert reading.running and reading.output_hz < 30.0  # decelerating on its own ramp


async def test_run_refuses_frequencies_above_01_00(rig: Rig) -> None:
    with pytest.raises(ConfigurationError):
        await rig.drive.run(75.0)
    assert rig.sim.bank.get("command") == 0


async def test_silent_host_gets_a_comm_fault_and_a_ramp_stop(rig: Rig) -> None:
    await rig.drive.run(30.0)
    for _ in range(6):
        _advance(rig, 1.0)
        await rig.drive.read()
    _advance(rig, 2.5)  # the host says nothing past 09-03 = 2 s
    _advance(rig, 0.5)
    reading = await rig.drive.read()
    assert reading.fault_code == Fault.COMM_TIMEOUT and 0 < reading.output_hz < 30.0
    await rig.drive.reset_fault()
    assert (await rig.drive.read()).fault_code == 0


async def test_a_tripped_drive_reports_its_fault_and_will_not_run(rig: Rig) -> None:
    rig.sim.backdoor.drive_fault(Fault.OVERLOAD)
    reading = await rig.drive.read()
    assert reading.fault_code == Fault.OVERLOAD and not reading.running
    await rig.drive.run(30.0)  # accepted on the wire, ignored by the drive
    _advance(rig, 2.0)
    assert not (await rig.drive.read()).running
    await rig.drive.reset_fault()
    await rig.drive.run(30.0)
    _advance(rig, 2.0)
    reading = await rig.drive.read()
    assert reading.running and reading.fault_code == 0


# ------------------------------------------------------- request bytes on the wire


async def test_reset_fault_sends_fc06_2002h_0002_and_nothing_to_2000h() -> None:
    """The PDU on the wire, captured by a bare Modbus TCP server (not pymodbus's)."""
    pdus: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                mbap = await reader.readexactly(7)
                pdu = await reader.readexactly(int.from_bytes(mbap[4:6], "big") - 1)
                pdus.append(pdu)
                if pdu[0] == 0x03:  # read holding registers: zeros
                    count = int.from_bytes(pdu[3:5], "big")
                    answer = bytes((0x03, 2 * count)) + bytes(2 * count)
                else:  # FC06: the normal response echoes the request
                    answer = pdu
                head = mbap[:4] + (len(answer) + 1).to_bytes(2, "big") + mbap[6:7]
                writer.write(head + answer)
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = VirtualClock()
    wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=port), timeout_s=0.5)
    bus = ModbusBus(wire, name="vfd-raw", clock=clock, timeout_s=0.5)
    device = bus.device(name="arm1", unit=1, regmap=MAP, identity=IDENTITY)
    task = asyncio.create_task(bus.run())
    try:
        await device.wait_connected(5.0)
        await DeltaVfd(device).reset_fault()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        server.close()
    writes = [p for p in pdus if p[0] == 0x06]
    assert writes == [RESET_PDU]
