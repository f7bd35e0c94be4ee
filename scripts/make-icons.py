#!/usr/bin/env python3
"""Draws the Agent Shell icon (an orange rounded square with a white headset) into icons/.

No image library needed: plain zlib PNG writing, so it runs on any machine with Python 3.
Writes the sizes Tauri's bundler expects plus an .ico and an .icns that embed the PNGs.
Run: python3 scripts/make-icons.py
"""
import math
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "icons")


def pixel(x, y, n):
    """RGBA of the icon at (x, y) for an n*n image, with 4x4 supersampling for smooth edges."""
    acc = [0.0, 0.0, 0.0, 0.0]
    for sy in range(4):
        for sx in range(4):
            u = (x + (sx + 0.5) / 4) / n
            v = (y + (sy + 0.5) / 4) / n
            r, g, b, a = sample(u, v)
            acc[0] += r * a
            acc[1] += g * a
            acc[2] += b * a
            acc[3] += a
    a = acc[3] / 16
    if a == 0:
        return (0, 0, 0, 0)
    return (round(acc[0] / acc[3]), round(acc[1] / acc[3]), round(acc[2] / acc[3]), round(a * 255))


def sample(u, v):
    # rounded square background with a diagonal gradient
    m, radius = 0.06, 0.2
    dx = max(m + radius - u, 0, u - (1 - m - radius))
    dy = max(m + radius - v, 0, v - (1 - m - radius))
    if math.hypot(dx, dy) > radius:
        return (0, 0, 0, 0)
    t = (u + v) / 2
    bg = (255, round(79 + (138 - 79) * t), round(31 + (61 - 31) * t), 1.0)
    white = (255, 255, 255, 1.0)
    cx, cy = 0.5, 0.54
    d = math.hypot(u - cx, v - cy)
    # headband: upper half ring
    if v <= cy and 0.22 <= d <= 0.29:
        return white
    # ear cups
    for ex in (0.255, 0.745):
        if abs(u - ex) <= 0.07 and 0.5 <= v <= 0.72:
            return white
    # microphone boom and tip
    if 0.72 <= v <= 0.76 and 0.3 <= u <= 0.56:
        return white
    if math.hypot(u - 0.58, v - 0.74) <= 0.045:
        return white
    return bg


def png(n):
    rows = []
    for y in range(n):
        row = bytearray([0])
        for x in range(n):
            row.extend(pixel(x, y, n))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", n, n, 8, 6, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def ico(images):
    header = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    entries, blobs = b"", b""
    for n, data in images:
        dim = 0 if n >= 256 else n
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(data), offset + len(blobs))
        blobs += data
    return header + entries + blobs


def icns(images):
    body = b""
    for kind, data in images:
        body += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def main():
    os.makedirs(OUT, exist_ok=True)
    sizes = {n: png(n) for n in (32, 128, 256, 512)}
    files = {
        "32x32.png": sizes[32],
        "128x128.png": sizes[128],
        "128x128@2x.png": sizes[256],
        "icon.png": sizes[512],
        "icon.ico": ico([(32, sizes[32]), (128, sizes[128]), (256, sizes[256])]),
        "icon.icns": icns([(b"ic07", sizes[128]), (b"ic08", sizes[256]), (b"ic09", sizes[512])]),
    }
    for name, data in files.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        print(f"icons/{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
