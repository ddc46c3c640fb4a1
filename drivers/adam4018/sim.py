"""A simulated ADAM-4018+ thermocouple module speaking DCON on a pty.

As the ADAM 4000 Series User's Manual gives it (chapter 5, appendix B): upper case only; a frame
with bad syntax, a bad checksum or another module's address gets no reply at all; ``?AA`` only
where the manual names it (``%AANNTTCCFF`` with an invalid parameter or a baud/checksum change
while INIT* is open, p. 5-5). Eight channels (``#AA``, p. 5-13; ``#AAN`` N = 0..7, p. 5-15) come
from a callable (the thermal model stepped elsewhere) in engineering units, with the decimals of
the input type (appendix B); an open wire or a value above the type's range reads +9999.9,
below it -0000.0, an input with nothing wired an open wire. Assumptions are in ``NOTES.md``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from drivers._sim.ascii_pty import AsciiPty, RequestFramer
from drivers.adam4018.backdoor import Backdoor
from drivers.adam4018.protocol import (
    CHECKSUM_BIT,
    CR,
    ENGINEERING_UNITS,
    INTEGRATION_BIT,
    TC_TYPES,
    checksum,
    format_value,
)
from drivers.clock import Clock

MODULE_NAME = "4018P"  # $AAM reply of the ADAM-4018+ (NOTES.md)
FIRMWARE = "A1.01"  # $AAF reply (invented, NOTES.md)
BAUD_9600 = 0x06  # CC code for 9600 baud (p. 5-10: !45050600 is "9600 bps")
CHANNELS = 8  # p. 5-15: N = 0..7 for the 4018
OVER, UNDER = "+9999.9", "-0000.0"  # saturation values (NOTES.md)
_FRAME = re.compile(r"([$#%])([0-9A-F]{2})(.*)")
_CONFIG = re.compile(r"[0-9A-F]{8}")  # NNTTCCFF


class Adam4018Sim:
    """The module; ``backdoor`` injects open wires and link faults."""

    def __init__(
        self,
        temperatures_c: Callable[[], Sequence[float]],
        *,
        address: int = 1,
        checksum: bool = False,
        type_code: int = 0x0F,
    ) -> None:
        if type_code not in TC_TYPES:
            raise ValueError(f"not a thermocouple type code: {type_code:#04x}")
        self._temperatures = temperatures_c
        self.address, self.checksum, self.type_code = address, checksum, type_code
        self.integration_bit = 0  # 50 ms, 60 Hz mains (the p. 5-10 example's FF = 00)
        self.backdoor = Backdoor()
        self.last_request_at: float | None = None  # clock time of the last request answered
        self._clock: Clock | None = None

    # ------------------------------------------------------------------ wire
    def handle(self, request: bytes) -> bytes | None:
        """One CR-terminated frame (CR stripped) -> the reply, or None (no reply at all)."""
        try:
            text = request.decode("ascii")
        except UnicodeDecodeError:
            return None
        if self.checksum:
            text, chk = text[:-2], text[-2:]
            if len(text) < 1 or checksum(text) != chk:
                return None
        match = _FRAME.fullmatch(text)
        if match is None or int(match.group(2), 16) != self.address:
            return None
        reply = self._command(match.group(1), match.group(3))
        if reply is None:
            return None
        if self._clock is not None:
            self.last_request_at = self._clock.now()
        return (reply + (checksum(reply) if self.checksum else "")).encode("ascii") + CR

    def _command(self, delimiter: str, body: str) -> str | None:
        aa = f"{self.address:02X}"
        if delimiter == "%":
            return self._configure(body)
        if delimiter == "#":
            values = self.values()
            if body == "":
                return ">" + "".join(values)  # p. 5-13
            if len(body) == 1 and body.isdigit() and int(body) < CHANNELS:
                return f">{values[int(body)]}"  # p. 5-15
            return None  # a syntax error
        answers = {
            "2": f"!{aa}{self.type_code:02X}{BAUD_9600:02X}{self.data_format:02X}",  # p. 5-9
            "M": f"!{aa}{MODULE_NAME}",  # p. 5-12
            "F": f"!{aa}{FIRMWARE}",  # $AAF, read firmware version
            "B": f"!{aa}{self.diagnosis():02X}",  # $AAB (4018+/4019+)
        }
        return answers.get(body)

    def _configure(self, body: str) -> str | None:
        """``%AANNTTCCFF`` (pp. 5-4/5-5): ``!NN`` once applied, ``?AA`` when refused."""
        if _CONFIG.fullmatch(body) is None:
            return None
        nn, tt, cc, ff = (int(body[i : i + 2], 16) for i in range(0, 8, 2))
        wants_checksum = bool(ff & CHECKSUM_BIT)
        if cc != BAUD_9600 or wants_checksum != self.checksum:
            return f"?{self.address:02X}"  # INIT* is not grounded in the sim (p. 5-5 NOTICE)
        if tt not in TC_TYPES or ff & ~(CHECKSUM_BIT | INTEGRATION_BIT) != ENGINEERING_UNITS:
            return f"?{self.address:02X}"  # an invalid parameter for what the sim models
        self.address, self.type_code = nn, tt
        self.integration_bit = ff & INTEGRATION_BIT
        return f"!{nn:02X}"

    # ---------------------------------------------------------------- module
    @property
    def data_format(self) -> int:
        """The FF byte of ``$AA2`` (figure 4-1): engineering units, checksum and integration."""
        return ENGINEERING_UNITS | (CHECKSUM_BIT if self.checksum else 0) | self.integration_bit

    def values(self) -> list[str]:
        """All eight channels as the module formats them; unwired ones read an open wire."""
        tc = TC_TYPES[self.type_code]
        wired = list(self._temperatures())[:CHANNELS]
        out = []
        for channel in range(CHANNELS):
            temp = wired[channel] if channel < len(wired) else None
            if temp is None or channel in self.backdoor.open_channels or temp > tc.high_c:
                out.append(OVER)
            elif temp < tc.low_c:
                out.append(UNDER)
            else:
                out.append(format_value(temp, tc.decimals))
        return out

    def diagnosis(self) -> int:
        """``$AAB`` bitmask: channels open, over or under range."""
        return sum(1 << n for n, v in enumerate(self.values()) if v in (OVER, UNDER))

    # -------------------------------------------------------------- serving
    @contextlib.asynccontextmanager
    async def serving(self, *, clock: Clock, pty_link: Path) -> AsyncIterator[Path]:
        """Answer on a pty; yields ``pty_link``, the path the daemon opens as its port."""
        self._clock = clock
        framer = RequestFramer(ends=CR)
        async with AsciiPty(self.handle, framer, self.backdoor.faults, link_path=pty_link):
            yield pty_link
