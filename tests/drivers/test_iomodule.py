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
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.registers import Table
from drivers._modbus.transport import TcpEndpoint
from drivers.capabilities import CasterOutputs
from drivers.clock import VirtualClock
from drivers.errors import ConfigurationError, DeviceRejected, DeviceTimeout
from drivers.iomodule import IDENTITY, MAP, IoModule
from drivers.iomodule.dcon import SAFE_VALUE, CommSafety, how_to_configure
from drivers.iomodule.driver import CommSafetyOff, write_order
from drivers.iomodule.registers import COILS, SAFE
from drivers.iomodule.sim import IoModuleOptions, IoModuleSim

LEASE_S = 20.0
CONFIGURED = IoModuleOptions(comm_safety=CommSafety(LEASE_S))  # $AAX0 set to the site's lease
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
    sim = IoModuleSim(CONFIGURED)
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
    holding = [reg for reg in MAP if reg.table is Table.HOLDING]
    assert not any(reg.writable for reg in holding)  # App. G: 40211, 40215, 40216 are R
    assert [reg.address for reg in holding] == [210, 214, 215]  # no assumed timeout register


def test_the_dcon_command_carries_the_lease_and_the_safe_value() -> None:
    assert 1 << MAP["vent_valve"].address == SAFE_VALUE  # vent open, everything else off
    assert CommSafety(20.0).command(1) == "$01X000C804"  # 200 x 100 ms in hex, DD = 04
    assert CommSafety(0.5, safe_value=0).command(0x1F) == "$1FX0000500"
    with pytest.raises(ConfigurationError):
        CommSafety(7000.0)  # beyond TTTT = FFFF
    with pytest.raises(ConfigurationError):
        CommSafety(1.0, safe_value=1 << len(COILS))  # a channel nothing is wired to


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


async def _connect(sim: IoModuleSim, lease_s: float) -> BankWire:
    """Connect a driver to ``sim`` over a :class:`BankWire`; the wire, with what it carried."""
    wire = BankWire(sim.bank)
    bus = ModbusBus(wire, name="io-line", clock=VirtualClock(), timeout_s=0.5)
    device = bus.device(name="io1", unit=1, regmap=MAP, identity=IDENTITY)
    task = asyncio.create_task(bus.run())
    try:
        await IoModule(device, lease_s=lease_s).connect()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return wire


async def test_connect_reads_comm_safety_and_writes_nothing() -> None:
    wire = await _connect(IoModuleSim(), 7.5)
    assert [op for op, *_ in wire.calls] == ["read", "read"]  # the identity, then 40215-40216
    assert wire.calls[-1] == ("read", Table.HOLDING, 214, (2,))


async def test_a_module_without_comm_safety_is_refused_at_connect() -> None:
    sim = IoModuleSim(IoModuleOptions(comm_safety_enabled=False))
    with pytest.raises(CommSafetyOff) as refused:
        await _connect(sim, 20.0)
    message = str(refused.value)
    assert message.startswith("io1: comm safety not enabled on the module (40215 = 0)")
    assert "lease is not armed" in message and "`labctl commission`" in message
    assert how_to_configure(20.0, 1) in message and "$01X000C804" in message


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


@pytest.mark.parametrize("address", [210, 214, 215, 216])  # 40211, 40215, 40216, 40217
def test_the_module_refuses_holding_writes_with_exception_02(address: int) -> None:
    sim = IoModuleSim()
    for values in ([1], [1, 1]):  # FC06, FC16
        with pytest.raises(BankError) as caught:
            sim.bank.write(Table.HOLDING, address, values)
        assert caught.value.code == 2
    assert sim.bank.get("comm_safety_enable") == 1 and sim.bank.get("module_id") == 0x4055


def test_the_module_refuses_what_a_module_would() -> None:
    sim = IoModuleSim()
    with pytest.raises(BankError):
        sim.bank.write(Table.DISCRETE, MAP["lid_closed"].address, [0])
    with pytest.raises(BankError):
        sim.bank.write(Table.COIL, len(COILS), [1])


async def test_the_module_applies_its_own_timeout_and_safety_value() -> None:
    options = IoModuleOptions(comm_safety=CommSafety(3.0, safe_value=0b000110))
    sim = IoModuleSim(options)
    sim.step_to(0.0)
    sim.step_to(2.9)
    assert sim.watchdog_trips == 0
    sim.step_to(3.1)
    assert sim.watchdog_trips == 1  # its 3 s, not the driver's lease (the driver sets none)
    assert sim.coils == CasterOutputs(chamber_valve=True, vent_valve=True)


def test_a_module_with_comm_safety_off_never_trips() -> None:
    sim = IoModuleSim(IoModuleOptions(comm_safety_enabled=False))
    sim.step_to(0.0)
    sim.step_to(1e6)
    assert not sim.watchdog_tripped and sim.bank.get("comm_safety_enable") == 0


# ------------------------------------------------------------ real loopback


async def test_driver_over_modbus_tcp_and_a_silent_module() -> None:
    clock = VirtualClock()
    sim = IoModuleSim(CONFIGURED)
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
