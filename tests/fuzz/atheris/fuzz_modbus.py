"""Atheris: Modbus reply words through codecs, read blocks and each family's reading decoder."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from drivers._modbus import codecs
    from drivers._modbus.plan import plan_reads
    from drivers._modbus.registers import Poll
    from drivers.delta_vfd import driver as delta
    from drivers.delta_vfd.registers import MAP as DELTA_MAP
    from drivers.errors import DriverError, FramingError
    from drivers.eurotherm3200 import driver as eurotherm
    from drivers.eurotherm3200.registers import MAP as EUROTHERM_MAP
    from drivers.iomodule import driver as iomodule
    from drivers.iomodule.registers import MAP as IO_MAP
    from drivers.omron_e5cc import driver as omron
    from drivers.omron_e5cc.registers import MAP as OMRON_MAP

import contextlib

from tests.fuzz.atheris.common import run

CODECS = [v for v in vars(codecs).values() if isinstance(v, codecs.Codec)]
FAMILIES = [
    (plan_reads(m.polled(Poll.FAST), max_block=125, max_fill=8), decode)
    for m, decode in (
        (EUROTHERM_MAP, eurotherm.decode_reading),
        (OMRON_MAP, omron.decode_reading),
        (IO_MAP, iomodule.decode_inputs),
        (DELTA_MAP, delta.decode_reading),
    )
]


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    codec = CODECS[fdp.ConsumeIntInRange(0, len(CODECS) - 1)]
    words = [fdp.ConsumeIntInRange(-1, 0x10000) for _ in range(fdp.ConsumeIntInRange(0, 3))]
    with contextlib.suppress(FramingError):
        codec.decode(words)
    blocks, decode = FAMILIES[fdp.ConsumeIntInRange(0, len(FAMILIES) - 1)]
    values: dict[str, float] = {}
    for block in blocks:
        top = 1 if block.table.is_bits else 0xFFFF
        values.update(block.decode([fdp.ConsumeIntInRange(0, top) for _ in range(block.count)]))
    with contextlib.suppress(DriverError):
        decode(0.0, values)


TestOneInput = test_one_input

if __name__ == "__main__":
    run(TestOneInput)
