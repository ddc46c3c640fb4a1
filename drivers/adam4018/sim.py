"""A simulated ADAM-4018+ thermocouple module speaking DCON on a pty (reference/devices.md §D.1).

Upper case only; a frame with bad syntax, a bad checksum or another module's address gets no
reply at all; a well-formed command the module cannot carry out gets ``?AA``. Channel values
come from a callable (the thermal model stepped elsewhere) in engineering units
(``>+0123.4``); an open wire or a value above the type's range reads +9999.9, below it
-0000.0. Assumptions are in ``NOTES.md``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

from drivers._sim.ascii_pty import AsciiPty, RequestFramer
from drivers.adam4018.backdoor import Backdoor
from drivers.adam4018.protocol import CR, ENGINEERING_UNITS, TC_TYPES, checksum, format_value
from drivers.clock import Clock

MODULE_NAME = "4018P"  # $AAM reply of the ADAM-4018+ (NOTES.md)
FIRMWARE = "A1.01"  # $AAF reply (invented, NOTES.md)
BAUD_9600 = 0x06  # CC code for 9600 baud (the §D.1 example !45050600)
CHECKSUM_BIT = 0x40  # FF bit 6: checksum enabled (NOTES.md)
CHANNELS = 8
OVER, UNDER = "+9999.9", "-0000.0"  # §D.1 saturation values
_FRAME = re.compile(r"([$#])([0-9A-F]{2})(.*)")


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
        if delimiter == "#":
            values = self.values()
            if body == "":
                return ">" + "".join(values)
            if len(body) != 1 or not body.isdigit():
                return None
            channel = int(body)
            return f">{values[channel]}" if channel < len(values) else f"?{aa}"
        answers = {
            "2": f"!{aa}{self.type_code:02X}{BAUD_9600:02X}{self.data_format:02X}",
            "M": f"!{aa}{MODULE_NAME}",
            "F": f"!{aa}{FIRMWARE}",
            "B": f"!{aa}{self.diagnosis():02X}",
        }
        return answers.get(body)

    # ---------------------------------------------------------------- module
    @property
    def data_format(self) -> int:
        """The FF byte of ``$AA2``: engineering units, checksum bit as configured."""
        return ENGINEERING_UNITS | (CHECKSUM_BIT if self.checksum else 0)

    def values(self) -> list[str]:
        """Every channel as the module formats it (at most eight)."""
        _, low, high = TC_TYPES[self.type_code]
        out = []
        for channel, temp in enumerate(list(self._temperatures())[:CHANNELS]):
            if channel in self.backdoor.open_channels or temp > high:
                out.append(OVER)
            elif temp < low:
                out.append(UNDER)
            else:
                out.append(format_value(temp))
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
