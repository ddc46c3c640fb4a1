"""The Modbus simulators, read and written by clients nobody here wrote, at the manuals' addresses.

``labctl sim`` serves its rigs to software that is not ours, so each simulator is checked with
minimalmodbus over its RTU pty and umodbus over Modbus TCP (never pymodbus, which serves them),
at the addresses, scaling and function codes of the device's own manual, cited where used (the
drivers' register tables are not imported: a wrong fact there must fail here). Each test reads
what the manual lists and compares it with the simulator's state, writes a harmless register and
reads it back, sends the commands labctl sends and checks the device did what the manual says,
and checks a request the manual says is refused.

Manuals: Eurotherm HA028651 *3200 Series Engineering Manual* Issue 7.0 (§15.5 "Parameter Modbus
Addresses", pp. 81-82) for the 3216's addresses, and HA026230 *2000 Series Communications Handbook*
Issue 3 for the Eurotherm protocol (function codes §3.12 p.22, FC07 §3.17 p.27, FC08 §3.18 p.28,
FC16 §3.19 p.29, exceptions §3.20 p.30, IEEE region §6.1-6.4 pp.77-78); Omron H175 *E5□C
Communications Manual* (Modbus variable area, two-byte mode; error codes §4-1-3 p.4-5; operation
commands and their replies §4-4-3 pp.4-13/4-14); Delta VFD-B user manual rev. 10/2005 BE13 ch.5 §3.5
address list pp.5-101/5-102, with the bit layout of 2000H/2002H/2101H read in the CP2000 manual
p.12.1-09-8 and the C2000 Plus manual p.A-10 (the same Delta table; drivers/delta_vfd/NOTES.md);
ADAM-4000 user manual appendix G (Modbus mapping, p.G-11: 40211 module name, 40215/40216 comm
safety) and the caster wiring of drivers/iomodule/NOTES.md; Modbus Application Protocol V1.1b3 §6
for FC01-FC16.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator

import pytest

from drivers.delta_vfd.sim import DeltaVfdSim
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from drivers.iomodule.sim import IoModuleSim
from drivers.omron_e5cc.sim import OmronE5ccSim
from drivers.omron_e5cc.sim import SimOptions as CrucibleOptions
from hil_tests.support.modbus_clients import (
    MinimalModbusRtu,
    NoReply,
    Refused,
    Served,
    Transport,
    served,
    signed,
)

pytestmark = [pytest.mark.hil, pytest.mark.timeout(30)]

# Eurotherm 3216 (HA028651 §15.5 p.81 unless noted)
PV, MAN_OP, WRK_OP, WKG_SP = 1, 3, 4, 5
T_STAT = 23  # 0 reset, 1 run, 2 hold, 3 end
RM_SP = 26  # remote (comms) setpoint: volatile, the one to write often
UNLISTED = (10, 22)  # p.81 lists 9 (Td), 11 (RNG.LO), 21 (MTR.T) and 23, but not 10 or 22
STAT = 75  # p.82: B4 auto/manual, B5 sensor break
STAT_MANUAL, STAT_SENSOR_BREAK = 1 << 4, 1 << 5
DEC_P = 525  # decimal places of the scaled integers (HA028651 §15.5)


def ieee(address: int) -> int:
    """HA026230 §6.1 p.77: a parameter's IEEE-region address is 2 x its address + 8000h."""
    return 2 * address + 0x8000


@pytest.fixture(params=["rtu", "tcp"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param  # type: ignore[no-any-return]


def _kiln() -> Eurotherm3200Sim:
    return Eurotherm3200Sim(SimOptions(flask="small", start_temp_c=412.3))


@pytest.fixture
async def kiln(transport, tmp_path) -> AsyncIterator[tuple[Served[Eurotherm3200Sim], int]]:
    """A 3216 at about 412 °C, served and stepped once, and its scale (10 ** dEc.P) as read."""
    async with served(_kiln(), transport, tmp_path) as rig:
        rig.advance(1.0)
        (decimals,) = await rig.client.read_words(DEC_P, 1)
        yield rig, 10**decimals


async def test_eurotherm_reads_pv_setpoint_output_and_status(kiln):
    rig, scale = kiln
    sim, c = rig.sim, rig.client
    pv, _target, _manual, work_op, work_sp = await c.read_words(PV, 5)  # 1-5: all listed
    assert signed(pv) == round(sim.pv_c * scale)
    assert signed(work_sp) == round(sim.working_sp_c * scale)
    assert signed(work_op) == round(sim.output_pct * scale)
    assert await c.read_words(T_STAT, 1) == [sim.tstat]
    (stat,) = await c.read_words(STAT, 1)
    assert bool(stat & STAT_MANUAL) == (sim.bank.get("loop_mode") == 1)
    assert not stat & STAT_SENSOR_BREAK
    sim.backdoor.open_thermocouple()
    rig.advance(1.0)
    (stat,) = await c.read_words(STAT, 1)
    assert stat & STAT_SENSOR_BREAK


async def test_eurotherm_setpoint_and_manual_output_written_and_read_back(kiln):
    rig, scale = kiln
    sim, c = rig.sim, rig.client
    await c.write_word(RM_SP, 4500 * scale // 10)  # FC06, 450.0 °C
    assert await c.read_words(RM_SP, 1) == [4500 * scale // 10]
    assert sim.bank.get("remote_sp") == 450.0
    assert sim.bank.get("loop_mode") == 1  # manual at power-on: the output follows MAN.OP
    await c.write_words(MAN_OP, [25 * scale])  # FC16, 25.0 %
    rig.advance(1.0)
    assert await c.read_words(WRK_OP, 1) == [25 * scale]
    assert sim.output_pct == 25.0
    await c.write_word(MAN_OP, 0)


async def test_eurotherm_fc16_discards_unlisted_words_and_refuses_read_only_ones(kiln):
    rig, _scale = kiln
    c = rig.client
    await c.write_word(T_STAT, 1)  # run (the empty program ends at once: run or end)
    rig.advance(1.0)
    assert await c.read_words(T_STAT, 1) == [rig.sim.tstat] != [0]
    # §3.19 p.29: a block's words at unconfigured addresses are discarded, not refused
    await c.write_words(UNLISTED[1], [0x1234, 0])  # 22 (unlisted), 23 T.STAT = reset
    assert await c.read_words(T_STAT, 1) == [0] == [rig.sim.tstat]
    # ... but a read-only parameter in a block is refused with a data error (03)
    with pytest.raises(Refused) as refused:
        await c.write_words(MAN_OP, [0, 0])  # 3 MAN.OP, 4 WRK.OP (read-only)
    assert refused.value.code == 3


async def test_eurotherm_refuses_addresses_the_manual_does_not_list(kiln):
    c = kiln[0].client
    for address in UNLISTED:
        with pytest.raises(Refused) as refused:
            await c.read_words(address, 1)
        assert refused.value.code == 2, address  # §3.20 p.30: illegal data address


async def test_eurotherm_ieee_float_region(kiln):
    rig, scale = kiln
    sim, c = rig.sim, rig.client
    # §6.4 p.78: a float is two words, most significant first, read in one block
    (pv,) = struct.unpack(">f", struct.pack(">2H", *await c.read_words(ieee(PV), 2)))
    # full resolution: at least the integer region's (half a digit), plus float32 rounding
    assert abs(pv - sim.pv_c) <= 0.5 / scale + 1e-4
    # §6.3 p.78: an enumerated or status parameter uses the first word, the second is 8000h
    assert await c.read_words(ieee(T_STAT), 2) == [sim.tstat, 0x8000]
    (stat,) = await c.read_words(STAT, 1)
    assert await c.read_words(ieee(STAT), 2) == [stat, 0x8000]
    words = struct.unpack(">2H", struct.pack(">f", 437.5))
    await c.write_words(ieee(RM_SP), words)  # FC16
    assert await c.read_words(RM_SP, 1) == [4375 * scale // 10]
    with pytest.raises(Refused):  # §6.1 p.77: FC06 into the IEEE region is refused
        await c.write_word(ieee(RM_SP), words[0])


async def test_eurotherm_rtu_fast_status_loopback_and_silence_on_unsupported_functions(
    tmp_path,
):
    sim = _kiln()
    async with served(sim, "rtu", tmp_path) as rig:
        assert isinstance(rig.client, MinimalModbusRtu)
        rtu = rig.client
        sim.backdoor.open_thermocouple()
        rig.advance(1.0)
        (stat,) = await rtu.read_words(STAT, 1)
        # §3.17 p.27: FC07 answers one byte, the low byte of the status word; the manual's
        # example 30h is "sensor break + manual", which is this unit now
        assert await rtu.raw(7, b"") == bytes([stat & 0xFF]) == b"\x30"
        # §3.18 p.28: FC08 diagnostic code 0 returns the data unchanged
        assert await rtu.raw(8, b"\x00\x00\x12\x34") == b"\x00\x00\x12\x34"
        # §3.12 p.22: no reply to a function code outside 1-8 and 16 (17 report slave id,
        # 43 read device identification)
        for fc, payload in ((17, b""), (43, b"\x0e\x01\x00")):
            with pytest.raises(NoReply):
                await rtu.raw(fc, payload)


# Omron E5CC, H175 two-byte mode; the simulated K input (-200..1300 °C) has no decimals.
E5_COMMAND = 0x0000  # operation command, FC06 only (§4-4-3)
E5_PV, E5_INTERNAL_SP, E5_MV_HEAT = 0x2000, 0x2002, 0x2004  # 2001: status; MV in 0.1 %
E5_SP = 0x2103
WRITING_ON, RUN, STOP, RAM_MODE = 0x0001, 0x0100, 0x0101, 0x0401  # code << 8 | info (p.4-13)
OPERATION_ERROR, VARIABLE_DATA_ERROR = 4, 3  # p.4-14


def _crucible() -> OmronE5ccSim:
    return OmronE5ccSim(CrucibleOptions(start_temp_c=612.0))


async def test_e5cc_reads_pv_status_setpoint_and_output(transport, tmp_path):
    sim = _crucible()
    async with served(sim, transport, tmp_path) as rig:
        rig.advance(1.0)
        pv, status, internal_sp = await rig.client.read_words(E5_PV, 3)
        assert signed(pv) == round(sim.pv_c)
        assert status == int(sim.status) & 0xFFFF
        assert signed(internal_sp) == round(sim.sp_c)
        assert await rig.client.read_words(E5_MV_HEAT, 1) == [round(sim.output_pct * 10)]


async def test_e5cc_operation_commands_are_echoed_and_act(transport, tmp_path):
    sim = _crucible()
    async with served(sim, transport, tmp_path) as rig:
        c = rig.client
        with pytest.raises(Refused) as refused:  # communications writing is off at power-on
            await c.write_word(E5_SP, 950)
        assert refused.value.code == OPERATION_ERROR
        await c.write_word(E5_COMMAND, WRITING_ON)  # both clients check the echo (p.4-14)
        assert sim.writes_enabled
        await c.write_word(E5_COMMAND, RAM_MODE)
        assert sim.ram_mode
        await c.write_word(E5_SP, 950)
        assert await c.read_words(E5_SP, 1) == [950]
        assert await c.read_words(E5_INTERNAL_SP, 1) == [950]
        assert (sim.sp_c, sim.eeprom_writes) == (950.0, 0)  # RAM write mode: no EEPROM write
        await c.write_word(E5_COMMAND, STOP)
        assert sim.stopped
        await c.write_word(E5_COMMAND, RUN)
        assert not sim.stopped


async def test_e5cc_refuses_unknown_commands_and_out_of_range_values(transport, tmp_path):
    async with served(_crucible(), transport, tmp_path) as rig:
        c = rig.client
        await c.write_word(E5_COMMAND, WRITING_ON)
        for address, value in ((E5_COMMAND, 0x0A00), (E5_SP, 0x7FFF)):  # no code 0A; 32767 °C
            with pytest.raises(Refused) as refused:
                await c.write_word(address, value)
            assert refused.value.code == VARIABLE_DATA_ERROR


# Delta VFD-B: 2000H command word, 2001H frequency command (0.01 Hz), 2002H control bits,
# 2100H fault code, 2101H status, 2103H output frequency (0.01 Hz), 2104H current (0.1 A)
VFD_COMMAND, VFD_FREQ, VFD_CONTROL = 0x2000, 0x2001, 0x2002
VFD_FAULT, VFD_OUT_FREQ, VFD_RPM = 0x2100, 0x2103, 0x210C  # each read with the next word
RUN_FWD, VFD_STOP = 0x0012, 0x0001  # 2000H bits 1-0: 10B run, 01B stop; bits 5-4: 01B FWD
EF_ON, RESET, BASE_BLOCK = 0x0001, 0x0002, 0x0004  # 2002H bits 0, 1, 2
STOPPED, RUNNING = 0b00, 0b11  # 2101H bits 1-0


async def _vfd_monitor(rig) -> tuple[int, int, int, int, int]:
    fault, status = await rig.client.read_words(VFD_FAULT, 2)  # 2100H, 2101H
    out_freq, current = await rig.client.read_words(VFD_OUT_FREQ, 2)  # 2103H, 2104H
    (rpm,) = await rig.client.read_words(VFD_RPM, 1)
    return fault, status, out_freq, current, rpm


async def test_delta_vfd_run_trip_reset_and_stop_as_the_address_list_says(transport, tmp_path):
    sim = DeltaVfdSim()
    async with served(sim, transport, tmp_path) as rig:
        c = rig.client
        rig.advance(0.1)
        fault, status, out_freq, _current, rpm = await _vfd_monitor(rig)
        assert (fault, status & 0b11, out_freq, rpm) == (sim.trip_code, STOPPED, 0, 0)
        await c.write_word(VFD_FREQ, 2500)  # 25.00 Hz
        assert await c.read_words(VFD_FREQ, 1) == [2500]
        await c.write_word(VFD_COMMAND, RUN_FWD)
        assert (sim.run_command, sim.output_on) == (True, True)
        rig.advance(1.0)
        fault, status, out_freq, current, rpm = await _vfd_monitor(rig)
        assert status & 0b11 == RUNNING
        assert out_freq == round(sim.output_hz * 100) > 0
        assert current == round(sim.bank.get("output_current") * 10) > 0
        assert rpm == round(sim.arm.rpm)
        await c.write_word(VFD_CONTROL, BASE_BLOCK)  # B.B on: output off while set
        assert (sim.output_on, sim.output_hz) == (False, 0.0)
        await c.write_word(VFD_CONTROL, 0)  # B.B released: the held RUN resumes
        assert sim.output_on is True
        await c.write_word(VFD_CONTROL, EF_ON)  # external fault: the drive trips
        assert (bool(sim.trip_code), sim.output_on) == (True, False)
        fault, status, out_freq, _current, _rpm = await _vfd_monitor(rig)
        assert (fault, status & 0b11, out_freq) == (sim.trip_code, STOPPED, 0)
        await c.write_word(VFD_CONTROL, RESET)
        assert await c.read_words(VFD_FAULT, 1) == [0] == [sim.trip_code]
        await c.write_word(VFD_COMMAND, VFD_STOP)
        assert not sim.run_command


# Caster I/O module: coils and inputs in the wiring order of drivers/iomodule/NOTES.md; holding
# 40211 module name, 40215 comm safety enable, 40216 comm safety flag (ADAM-4000 p.G-11, 0-based
# PDU addresses 210, 214, 215)
COILS = ("pump", "chamber_valve", "vent_valve", "argon_valve", "pour", "lid_release")
MODULE_NAME, COMM_SAFETY_ENABLE = 210, 214


def _inputs(sim: IoModuleSim) -> list[int]:
    switches = (sim.lid_closed, sim.flask_present, sim.estop_ok, sim.loads.pump, sim.arm_stopped)
    return [int(on) for on in switches]


async def test_io_module_inputs_coils_and_comm_safety(transport, tmp_path):
    sim = IoModuleSim()
    sim.flask_present = False
    async with served(sim, transport, tmp_path) as rig:
        c = rig.client
        rig.advance(0.1)
        assert await c.read_bits(0, 5, fc=2) == _inputs(sim)
        assert await c.read_bits(0, 6, fc=1) == [int(getattr(sim.coils, n)) for n in COILS]
        assert await c.read_words(MODULE_NAME, 1) == [sim.bank.get("module_id")]
        enable, flag = await c.read_words(COMM_SAFETY_ENABLE, 2)
        assert (enable, flag) == (sim.bank.get("comm_safety_enable"), sim.watchdog_tripped)
        for write in (c.write_word(COMM_SAFETY_ENABLE, 0), c.write_words(COMM_SAFETY_ENABLE, [0])):
            with pytest.raises(Refused) as refused:  # p.G-11: attribute R; exception 02 assumed
                await write
            assert refused.value.code == 2
        assert sim.bank.get("comm_safety_enable") == 1
        await c.write_bit(0, True)  # FC05 pump on; both clients check the echo
        assert sim.coils.pump
        assert (await c.read_bits(0, 5, fc=2))[3] == 1  # the pump contactor's aux contact
        wanted = [0, 1, 0, 1, 0, 0]  # FC15: chamber and argon valves only
        await c.write_bits(0, wanted)
        assert [int(getattr(sim.coils, n)) for n in COILS] == wanted
        assert await c.read_bits(0, 6, fc=1) == wanted
        sim.backdoor.press_estop()
        assert await c.read_bits(0, 5, fc=2) == _inputs(sim)
        with pytest.raises(Refused) as refused:  # V1.1b3 §6.5: no coil 6 -> exception 02
            await c.write_bit(len(COILS), True)
        assert refused.value.code == 2
