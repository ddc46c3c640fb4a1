"""Atheris: TPG 36x and DCON (ADAM-4018) reply bytes through every parser of the two protocols."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from drivers.adam4018 import protocol as dcon
    from drivers.errors import DeviceRejected, FramingError
    from drivers.tpg36x import protocol as tpg

import contextlib

from tests.fuzz.atheris.common import run


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    chk, address = fdp.ConsumeBool(), fdp.ConsumeIntInRange(0, 255)
    reply = fdp.ConsumeBytes(fdp.remaining_bytes())
    for parse in (tpg.check_ack, tpg.parse_pressure, tpg.parse_error_word):
        with contextlib.suppress(FramingError, DeviceRejected):
            parse(reply)
    for splitter in (tpg.LineSplitter(), dcon.ReplySplitter()):
        with contextlib.suppress(FramingError):
            splitter.feed(reply)
    try:
        text = dcon.unframe(reply, with_checksum=chk)
    except (FramingError, DeviceRejected):
        return
    for parse_text in (dcon.parse_channel, dcon.parse_all_channels):
        with contextlib.suppress(FramingError):
            parse_text(text)
    for parse_at in (dcon.parse_config, dcon.parse_name, dcon.parse_diagnosis):
        with contextlib.suppress(FramingError):
            parse_at(text, address)


TestOneInput = test_one_input

if __name__ == "__main__":
    run(TestOneInput)
