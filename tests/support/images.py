"""Hostile images for the decoders: a PNG that is small on disk and huge once decoded."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of width x height black pixels: 30000x30000 is about 110 KB on disk
    and 900 million pixels (a byte each, once OpenCV has read it as grey)."""
    packer = zlib.compressobj(9)
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte, then the packed bits
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


def peak_kib(time_v_stderr: str) -> int:
    """The peak resident memory `/usr/bin/time -v` reported, in KiB."""
    line = next(x for x in time_v_stderr.splitlines() if "Maximum resident set size" in x)
    return int(line.rsplit(":", 1)[1])
