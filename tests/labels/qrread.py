"""Reading QR symbols back out of the images the service makes: the module matrix of a PNG (decoded
here: zlib and PNG row filters, no imaging library) and of a segno SVG (its path drawn back)."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
import zlib

BORDER = 4


def png_pixels(data: bytes) -> tuple[int, int, list[list[int]]]:
    """Width, height and grey levels (0 black .. 1 white) of a 1-bit greyscale, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        crc = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        assert zlib.crc32(kind + chunk) == crc, f"bad CRC in {kind!r}"
        if kind == b"IHDR":
            header = chunk
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (1, 0, 0), (depth, colour, interlace)
    raw, stride = zlib.decompress(idat), (width + 7) // 8
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a, b, c = (line[i - 1] if i else 0), prev[i], (prev[i - 1] if i else 0)
            pred = {0: 0, 1: a, 2: b, 3: (a + b) // 2}.get(kind)
            if pred is None:  # Paeth
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            line[i] = (line[i] + pred) & 0xFF
        rows.append([(line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
        prev = line
    return width, height, rows


def png_matrix(data: bytes, modules: int) -> list[list[bool]]:
    """The dark modules (True) of a symbol `modules` wide, sampled at each module's centre, after
    checking the quiet zone is white."""
    width, height, px = png_pixels(data)
    assert width == height and width % (modules + 2 * BORDER) == 0, (width, modules)
    scale = width // (modules + 2 * BORDER)
    quiet = BORDER * scale
    for y in range(height):
        for x in range(width):
            if not (quiet <= x < width - quiet and quiet <= y < height - quiet):
                assert px[y][x] == 1, f"dark pixel in the quiet zone at {x},{y}"
    return [
        [px[quiet + r * scale + scale // 2][quiet + c * scale + scale // 2] == 0 for c in range(modules)]
        for r in range(modules)
    ]


def svg_matrix(data: bytes, modules: int) -> tuple[list[list[bool]], ET.Element]:
    """The dark modules a segno SVG path draws (`M x y`, `m dx dy` move; `h n` draws n modules on the
    row at y - 0.5), and the parsed document."""
    root = ET.fromstring(data)
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    grid = [[False] * modules for _ in range(modules)]
    x = y = 0.0
    for op, args in re.findall(r"([MmHhVv])([^MmHhVv]*)", path.attrib["d"]):
        nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if op == "M":
            x, y = nums
        elif op == "m":
            x, y = x + nums[0], y + nums[1]
        elif op == "h":
            row = int(y - 0.5) - BORDER
            for col in range(int(x), int(x + nums[0])):
                grid[row][col - BORDER] = True
            x += nums[0]
        else:
            raise AssertionError(f"unexpected path command {op}")
    return grid, root
