"""The caster I/O module: its table, the driver against the simulator through the bus, and the
simulated comms watchdog under virtual time."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

import pytest

from drivers._modbus.bank import BankError, RegisterBank
from drivers._modbus.bus import ModbusBus
from drivers._modbus.pymodbus_wire import PymodbusWire
from drivers._modbus.registers import Table
from drivers._modbus.transport import TcpEndpoint
from drivers.capabilities import CasterOutputs
from drivers.clock import VirtualClock
from drivers.errors import DeviceRejected, DeviceTimeout
from drivers.iomodule import IDENTITY, MAP, IoModule
from drivers.iomodule.driver import write_order
from drivers.iomodule.registers import COILS, SAFE
from drivers.iomodule.sim import IoModuleSim

LEASE_S = 20.0
EVACUATE = CasterOutputs(pump=True, chamber_valve=True, vent_valve=False)


class BankWire:
    """A Wire straight onto a simulator's register bank: the bus and driver, no sockets."""

    def __init__(self, bank: RegisterBank) -> None:
        self.bank = bank
        self.connected = False
        self.calls: list[tuple[str, Table, int, tuple[int, ...]]] = []

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

    async def read(self, table: Table, address: int, count: int, unit: int) -> list[int]:
        self.calls.append(("read", table, address, (count,)))
        await asyncio.sleep(0)
        try:
            return self.bank.read(table, address, count)
        except BankError as err:
            raise DeviceRejected(str(err), code=err.code) from None

    async def write(self, table: Table, address: int, values: Sequence[int], unit: int) -> None:
        self.calls.append(("write", table, address, tuple(values)))
        await asyncio.sleep(0)
        try:
            self.bank.write(table, address, values)
        except BankError as err:
            raise DeviceRejected(str(err), code=err.code) from None


@dataclass
class Rig:
    sim: IoModuleSim
    wire: BankWire
    io: IoModule


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    sim = IoModuleSim()
    sim.step_to(0.0)
    wire = BankWire(sim.bank)
    bus = ModbusBus(wire, name="io-line", clock=VirtualClock(), timeout_s=0.5)
    device = bus.device(name="io1", unit=1, regmap=MAP, identity=IDENTITY)
    task = asyncio.create_task(bus.run())
    io = IoModule(device, lease_s=LEASE_S)
    await io.connect()
    wire.calls.clear()
    yield Rig(sim, wire, io)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


# ---------------------------------------------------------------- the table


def test_table_follows_the_wiring_convention_and_adam_comm_safety() -> None:
    assert [MAP[n].address for n in COILS] == [0, 1, 2, 3, 4, 5]
    assert all(MAP[n].table is Table.COIL and MAP[n].writable for n in COILS)
    inputs = ("lid_closed", "flask_present", "estop_ok", "pump_running")
    assert [MAP[n].address for n in inputs] == [0, 1, 2, 3]
    assert all(MAP[n].table is Table.DISCRETE for n in inputs)
    assert MAP["comm_safety_enable"].address == 40215 - 40001  # ADAM 4xxxx, 1-based
    assert MAP["comm_safety_flag"].address == 40216 - 40001
    assert not MAP["comm_safety_flag"].writable
    assert MAP["comm_safety_timeout"].encode(20.0) == (200,)


def test_every_caster_output_has_a_coil_and_safe_values_are_the_defaults() -> None:
    assert {f.name for f in dataclasses.fields(CasterOutputs)} == set(COILS)
    assert dataclasses.asdict(CasterOutputs()) == SAFE


def test_write_order_goes_to_safe_first_and_pours_last() -> None:
    order = write_order(CasterOutputs(pump=True, chamber_valve=True, vent_valve=False, pour=True))
    assert order == [
        ("argon_valve", False),
        ("lid_release", False),
        ("vent_valve", False),
        ("pump", True),
        ("chamber_valve", True),
        ("pour", True),
    ]
    assert [v for _, v in write_order(CasterOutputs())] == [
        False,
        False,
        False,
        False,
        False,
        True,
    ]


# ------------------------------------------------------ driver against the sim


async def test_connect_arms_the_watchdog_with_the_lease() -> None:
    sim = IoModuleSim()
    bus = ModbusBus(BankWire(sim.bank), name="io-line", clock=VirtualClock(), timeout_s=0.5)
    device = bus.device(name="io1", unit=1, regmap=MAP, identity=IDENTITY)
    task = asyncio.create_task(bus.run())
    try:
        await IoModule(device, lease_s=7.5).connect()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert sim.bank.get("comm_safety_enable") == 1
    assert sim.bank.get("comm_safety_timeout") == 7.5


async def test_read_is_two_transactions_inputs_and_coils(rig: Rig) -> None:
    rig.sim.backdoor.open_lid()
    reading = await rig.io.read()
    assert [(op, table) for op, table, _, _ in rig.wire.calls] == [
        ("read", Table.COIL),
        ("read", Table.DISCRETE),
    ]
    assert not reading.lid_closed
    assert reading.flask_present and reading.estop_ok and not reading.pump_running
    assert reading.outputs == CasterOutputs()


async def test_set_outputs_writes_every_coil_verified_and_reads_back(rig: Rig) -> None:
    await rig.io.set_outputs(EVACUATE)
    writes = [(address, values) for op, _, address, values in rig.wire.calls if op == "write"]
    assert len(writes) == 6 and len(rig.wire.calls) == 12  # FC5 + FC1 read-back per coil
    assert writes[-3:] == [(2, (0,)), (0, (1,)), (1, (1,))]  # vent shut before pump and valve
    assert rig.sim.coils == EVACUATE
    reading = await rig.io.read()
    assert reading.outputs == EVACUATE and reading.pump_running
    await rig.io.safe_state()
    assert rig.sim.coils == CasterOutputs()


async def test_watchdog_fires_after_the_lease_and_a_write_clears_it(rig: Rig) -> None:
    sim = rig.sim
    await rig.io.set_outputs(EVACUATE)
    sim.step_to(15.0)
    await rig.io.read()  # any request renews the lease
    sim.step_to(15.0 + LEASE_S - 0.5)
    assert sim.coils == EVACUATE and sim.watchdog_trips == 0
    sim.step_to(15.0 + LEASE_S + 0.5)
    assert sim.watchdog_tripped and sim.watchdog_trips == 1
    assert sim.coils == CasterOutputs()
    reading = await rig.io.read()
    assert reading.outputs == CasterOutputs() and not reading.pump_running
    await rig.io.set_outputs(EVACUATE)
    assert sim.bank.get("comm_safety_flag") == 0 and sim.coils == EVACUATE


async def test_backdoor_breaks_the_caster_not_the_coils(rig: Rig) -> None:
    sim = rig.sim
    await rig.io.set_outputs(EVACUATE)
    sim.backdoor.fail_pump()
    reading = await rig.io.read()
    assert reading.outputs.pump and not reading.pump_running
    assert not sim.loads.pump and sim.loads.chamber_valve
    sim.backdoor.fail_pump(False)
    sim.backdoor.press_estop()
    sim.backdoor.remove_flask()
    reading = await rig.io.read()
    assert not reading.estop_ok and not reading.flask_present and not reading.pump_running
    assert reading.outputs == EVACUATE  # the module still holds them ...
    assert sim.loads == CasterOutputs()  # ... but the e-stop chain cut the actuators


async def test_reboot_powers_up_safe_and_keeps_the_watchdog_armed(rig: Rig) -> None:
    sim = rig.sim
    await rig.io.set_outputs(EVACUATE)
    sim.step_to(5.0)
    sim.backdoor.reboot()
    assert sim.coils == CasterOutputs()
    sim.step_to(5.0 + LEASE_S + 1.0)
    assert sim.watchdog_tripped


def test_the_module_refuses_what_a_module_would() -> None:
    sim = IoModuleSim()
    with pytest.raises(BankError) as caught:
        sim.bank.write(Table.HOLDING, MAP["comm_safety_flag"].address, [0])
    assert caught.value.code == 3
    with pytest.raises(BankError):
        sim.bank.write(Table.HOLDING, MAP["comm_safety_timeout"].address, [6001])  # > 600 s
    with pytest.raises(BankError):
        sim.bank.write(Table.DISCRETE, MAP["lid_closed"].address, [0])


# ------------------------------------------------------------ real loopback


async def test_driver_over_modbus_tcp_and_a_silent_module() -> None:
    clock = VirtualClock()
    sim = IoModuleSim()
    async with sim.serving(clock=clock, tcp_port=0) as endpoint:
        assert endpoint.port is not None
        wire = PymodbusWire(TcpEndpoint(host="127.0.0.1", port=endpoint.port), timeout_s=0.3)
        bus = ModbusBus(wire, name="io-tcp", clock=clock, timeout_s=0.3)
        device = bus.device(name="io1", unit=1, regmap=MAP, identity=IDENTITY)
        task = asyncio.create_task(bus.run())
        try:
            io = IoModule(device, lease_s=LEASE_S)
            await io.connect()
            await io.set_outputs(EVACUATE)
            assert (await io.read()).outputs == EVACUATE
            sim.backdoor.silent()
            with pytest.raises(DeviceTimeout):
                await io.read()
            clock.advance(LEASE_S + 1.0)
            sim.step_to(clock.now())
            assert sim.watchdog_tripped and sim.coils == CasterOutputs()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
