"""The simulators' function codes and derived status words, seen by clients nobody here wrote.

Continues ``test_modbus_clients.py`` (same clients: minimalmodbus over the RTU pty, umodbus over
Modbus TCP; the drivers' tables are not imported). Manuals: Omron H175 *E5□C Communications
Manual* (functions 03, 06, 08 and 16, §4-2 p.4-6; end code 01 for any other, §4-1-3 p.4-5; the
echoback test, §4-4-4 p.4-15); Eurotherm HA028651 *3200 Series Engineering Manual* Issue 7.0
§15.5 p.82 (75 StAt, 76 its bitwise inverse); Delta VFD-B user manual rev. 10/2005 BE13 ch.5
address list pp.5-101/5-102, with the C2000 Plus manual app. A p.A-10 (2102H frequency command).
"""

from __future__ import annotations

import pytest

from drivers.delta_vfd.sim import DeltaVfdSim
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from drivers.omron_e5cc.sim import OmronE5ccSim
from hil_tests.support.modbus_clients import MinimalModbusRtu, Refused, Transport, served

pytestmark = [pytest.mark.hil, pytest.mark.timeout(30)]
E5_PV = 0x2000  # process value, two-byte mode (H175 §5-1 p.5-2)
STAT, STAT_INVERTED = 75, 76  # HA028651 §15.5 p.82
VFD_FREQ, VFD_FREQ_MONITOR = 0x2001, 0x2102  # frequency command, written and monitored (0.01 Hz)


@pytest.fixture(params=["rtu", "tcp"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param  # type: ignore[no-any-return]


async def test_e5cc_answers_exception_01_to_a_function_it_lacks(transport, tmp_path):
    async with served(OmronE5ccSim(), transport, tmp_path) as rig:
        # §4-2 p.4-6 lists functions 03, 06, 08 and 16; §4-1-3 p.4-5: any other gets end code 01
        with pytest.raises(Refused) as refused:
            await rig.client.read_words(E5_PV, 1, fc=4)
        assert refused.value.code == 1


async def test_e5cc_rtu_echoback_test(tmp_path):
    async with served(OmronE5ccSim(), "rtu", tmp_path) as rig:
        assert isinstance(rig.client, MinimalModbusRtu)
        # §4-4-4 p.4-15: function 08, fixed data 0000, the test data comes back unchanged
        assert await rig.client.raw(8, b"\x00\x00\x12\x34") == b"\x00\x00\x12\x34"


async def test_eurotherm_inverted_status_is_the_bitwise_inverse_of_stat(transport, tmp_path):
    sim = Eurotherm3200Sim(SimOptions(flask="small"))
    async with served(sim, transport, tmp_path) as rig:
        rig.advance(1.0)
        # p.82: 76 is "an inverted (bitwise) version of the preceding" parameter, StAt
        stat, inverted = await rig.client.read_words(STAT, 2)
        assert inverted == ~stat & 0xFFFF


async def test_delta_vfd_2102h_reads_the_frequency_command(transport, tmp_path):
    async with served(DeltaVfdSim(), transport, tmp_path) as rig:
        rig.advance(0.1)
        await rig.client.write_word(VFD_FREQ, 2500)  # 25.00 Hz
        assert await rig.client.read_words(VFD_FREQ_MONITOR, 1) == [2500]
