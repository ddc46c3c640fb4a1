"""Raw Modbus frames for the simulator tests, built from the specification, not with pymodbus.

A reply is checked byte for byte against what the Modbus Application Protocol V1.1b3 and the
Modbus over Serial Line V1.02 (RTU framing, CRC-16) say a unit sends, so a pymodbus default
(an answer read back instead of echoed, a reply where the unit stays silent) shows.
"""

from __future__ import annotations

import asyncio
import struct

import serial


def crc16(frame: bytes) -> bytes:
    """Modbus RTU CRC-16 (polynomial 0xA001 reflected, initial 0xFFFF), low byte first."""
    crc = 0xFFFF
    for byte in frame:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


async def tcp_transact(port: int, unit: int, pdu: bytes, *, timeout_s: float = 0.5) -> bytes | None:
    """Send one request PDU over Modbus TCP; the reply PDU, or None when nothing came back."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(struct.pack(">HHHB", 7, 0, len(pdu) + 1, unit) + pdu)
        await writer.drain()
        try:
            header = await asyncio.wait_for(reader.readexactly(7), timeout_s)
        except TimeoutError:
            return None
        tid, proto, length, reply_unit = struct.unpack(">HHHB", header)
        assert (tid, proto, reply_unit) == (7, 0, unit)
        return await asyncio.wait_for(reader.readexactly(length - 1), timeout_s)
    finally:
        writer.close()
        await writer.wait_closed()


def _rtu_exchange(path: str, frame: bytes, timeout_s: float) -> bytes:
    with serial.Serial(path, baudrate=115200, timeout=timeout_s) as port:
        port.write(frame)
        reply = port.read(256)  # whatever arrives before the line stays quiet for timeout_s
    return bytes(reply)


async def rtu_transact(path: str, unit: int, pdu: bytes, *, timeout_s: float = 0.3) -> bytes | None:
    """Send one request PDU as an RTU frame on ``path``; the reply PDU, or None for silence."""
    frame = bytes([unit]) + pdu
    reply = await asyncio.to_thread(_rtu_exchange, path, frame + crc16(frame), timeout_s)
    if not reply:
        return None
    assert reply[0] == unit and crc16(reply[:-2]) == reply[-2:], reply.hex()
    return reply[1:-2]
