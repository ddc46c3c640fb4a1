"""The ADAM-4018 simulator's DCON replies, and the driver against it over a real pty."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers._serial import SerialLine, SerialSettings
from drivers.adam4018 import Adam4018
from drivers.adam4018.protocol import checksum
from drivers.adam4018.sim import Adam4018Sim
from drivers.clock import ScaledClock
from drivers.errors import (
    ConfigurationError,
    DeviceRejected,
    DeviceTimeout,
    DriverError,
    FramingError,
)


def _sim(*, address: int = 1, checksum: bool = False) -> tuple[Adam4018Sim, list[float]]:
    temps = [732.1, 25.0, -5.0, 1500.0]
    return Adam4018Sim(lambda: temps, address=address, checksum=checksum), temps


def test_sim_replies_in_engineering_units() -> None:
    sim, _ = _sim()
    assert sim.handle(b"#010") == b">+0732.1\r"
    # #AA answers all eight channels (manual p. 5-13); only four are wired, the rest read open
    assert sim.handle(b"#01") == b">+0732.1+0025.0-0000.0" + b"+9999.9" * 5 + b"\r"
    assert sim.handle(b"#017") == b">+9999.9\r"
    assert sim.handle(b"#019") is None  # no channel 9: a syntax error, no reply (p. 5-15)
    assert sim.handle(b"$012") == b"!010F0600\r"
    assert sim.handle(b"$01M") == b"!014018P\r"
    assert sim.handle(b"$01B") == b"!01FC\r"  # channels 2 (under), 3 (over), 4-7 (open)
    sim.backdoor.open_wire(0)
    assert sim.handle(b"#010") == b">+9999.9\r"
    assert sim.handle(b"$01B") == b"!01FD\r"


@pytest.mark.parametrize(
    ("type_code", "temp", "reply"),
    [  # appendix B pp. B-7/B-8: J and T in 0.01 °C, K, E, R, S, B in 0.1 °C
        (0x0E, 305.5, b">+305.50\r"),
        (0x10, -42.25, b">-042.25\r"),
        (0x0F, 305.5, b">+0305.5\r"),
        (0x14, 1234.56, b">+1234.6\r"),
    ],
)
def test_sim_prints_the_decimals_of_the_input_type(
    type_code: int, temp: float, reply: bytes
) -> None:
    sim = Adam4018Sim(lambda: [temp], type_code=type_code)
    assert sim.handle(b"#010") == reply


def test_sim_configuration_command_answers_or_refuses_as_the_manual_says() -> None:
    sim, _ = _sim()
    assert sim.handle(b"%01020E0600") == b"!02\r"  # new address 02, type J (pp. 5-4/5-5)
    assert sim.handle(b"$022") == b"!020E0600\r"
    assert sim.handle(b"$012") is None  # the old address is gone
    assert sim.handle(b"%0202080600") == b"?02\r"  # 08 (±10 mV) is not a thermocouple
    assert sim.handle(b"%02020E0700") == b"?02\r"  # baud change needs INIT* grounded
    assert sim.handle(b"%02020E0640") == b"?02\r"  # so does the checksum
    assert sim.handle(b"%02020E0604") == b"?02\r"  # bits 2-5 of FF are not used (p. 5-9)
    assert sim.handle(b"%02020E06") is None  # short: a syntax error, no reply
    assert sim.handle(b"$022") == b"!020E0600\r"  # nothing changed by the refusals


@pytest.mark.parametrize("frame", [b"#020", b"#01x", b"$01m", b"$01Z", b"", b"01", b"\xff"])
def test_sim_never_answers_bad_frames_or_other_addresses(frame: bytes) -> None:
    sim, _ = _sim()
    assert sim.handle(frame) is None


def test_sim_checksum_is_required_when_enabled() -> None:
    sim, _ = _sim(address=0x12, checksum=True)
    assert sim.handle(b"$122") is None
    assert sim.handle(b"$12200") is None
    reply = sim.handle(f"$122{checksum('$122')}".encode())
    assert reply == b"!120F0640" + checksum("!120F0640").encode() + b"\r"


@pytest.fixture(params=[False, True], ids=["plain", "checksum"])
async def rig(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Adam4018Sim, SerialLine, list[float], bool]]:
    with_checksum: bool = request.param
    sim, temps = _sim(address=3, checksum=with_checksum)
    async with sim.serving(clock=ScaledClock(), pty_link=tmp_path / "ttyADAM") as path:
        line = SerialLine(SerialSettings(port=str(path)))
        try:
            yield sim, line, temps, with_checksum
        finally:
            await line.close()


def _driver(line: SerialLine, channel: int, chk: bool, address: int = 3) -> Adam4018:
    return Adam4018(
        line, address=address, channel=channel, checksum=chk, clock=ScaledClock(), timeout_s=0.15
    )


Rig = tuple[Adam4018Sim, SerialLine, list[float], bool]


async def test_connect_and_read(rig: Rig) -> None:
    sim, line, temps, chk = rig
    tc = _driver(line, 0, chk)
    await tc.connect()
    reading = await tc.read()
    assert reading.temp_c == 732.1
    assert not reading.open_wire
    temps[0] = 745.26
    assert (await tc.read()).temp_c == 745.3
    assert sim.last_request_at is not None


async def test_open_wire_then_repaired(rig: Rig) -> None:
    sim, line, _, chk = rig
    tc = _driver(line, 0, chk)
    sim.backdoor.open_wire(0)
    reading = await tc.read()
    assert reading.open_wire
    assert reading.temp_c is None
    sim.backdoor.open_wire(0, False)
    assert (await tc.read()).temp_c == 732.1


async def test_out_of_range_has_no_value(rig: Rig) -> None:
    _, line, _, chk = rig
    under, over = _driver(line, 2, chk), _driver(line, 3, chk)
    assert (await under.read()).temp_c is None
    reading = await over.read()
    assert reading.temp_c is None
    assert reading.open_wire  # the module cannot tell over range from an open wire


async def test_unwired_channel_wrong_address_and_checksum_mismatch(rig: Rig) -> None:
    _, line, _, chk = rig
    assert (await _driver(line, 7, chk).read()).open_wire  # nothing wired there
    with pytest.raises(DeviceTimeout):  # nobody at address 4: no reply at all
        await _driver(line, 0, chk, address=4).read()
    with pytest.raises(DeviceTimeout):  # the module ignores frames with the wrong checksum use
        await _driver(line, 0, not chk).read()
    assert (await _driver(line, 1, chk).read()).temp_c == 25.0


async def test_silence_and_garble_then_recovery(rig: Rig) -> None:
    sim, line, _, chk = rig
    tc = _driver(line, 0, chk)
    sim.backdoor.silent(True)
    with pytest.raises(DeviceTimeout):
        await tc.read()
    sim.backdoor.silent(False)
    assert (await tc.read()).temp_c == 732.1
    sim.backdoor.garble(True)
    with pytest.raises(FramingError):
        await tc.read()
    sim.backdoor.garble(False)
    assert (await tc.read()).temp_c == 732.1


class _ScriptedLine:
    """Replies from a script at the line seam; silence when it runs out."""

    def __init__(self, replies: list[bytes]) -> None:
        self.replies = deque(replies)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_ScriptedLine]:
        yield self

    async def ask(self, request: bytes, *, until: bytes, timeout_s: float, max_bytes: int) -> bytes:
        if not self.replies:
            raise DeviceTimeout("script ran out")
        return self.replies.popleft()

    async def send(self, data: bytes) -> None:
        pass


@pytest.mark.parametrize(
    ("config", "message"),
    [(b"!01050600", "not a thermocouple"), (b"!010F0602", "engineering units")],
)
async def test_connect_refuses_a_module_it_cannot_read(config: bytes, message: str) -> None:
    line = _ScriptedLine([b"!014018", config])
    with pytest.raises(ConfigurationError, match=message):
        await Adam4018(line, address=1, channel=0, checksum=False, clock=ScaledClock()).connect()


async def test_a_refusal_is_device_rejected() -> None:
    line = _ScriptedLine([b"?01"])
    with pytest.raises(DeviceRejected, match=r"\?01"):
        await Adam4018(line, address=1, channel=0, checksum=False, clock=ScaledClock()).connect()


async def test_reply_from_another_module_is_a_framing_error() -> None:
    line = _ScriptedLine([b"!024018"])
    with pytest.raises(FramingError):
        await Adam4018(line, address=1, channel=0, checksum=False, clock=ScaledClock()).connect()


_REPLIES = st.one_of(
    st.binary(max_size=30),
    st.sampled_from([b"!014018P", b"!010F0600", b">+0732.1", b"?01", b">+9999.9", b"-0000.0"]),
    st.text(alphabet="!>?+-.0123456789ABCDEF", max_size=20).map(str.encode),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_REPLIES, max_size=4), st.booleans())
def test_random_replies_only_raise_driver_errors(replies: list[bytes], chk: bool) -> None:
    async def run() -> None:
        tc = Adam4018(
            _ScriptedLine(replies), address=1, channel=0, checksum=chk, clock=ScaledClock()
        )
        for step in (tc.connect, tc.read):
            with contextlib.suppress(DriverError):
                await step()

    asyncio.run(asyncio.wait_for(run(), 2.0))
