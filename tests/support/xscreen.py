"""A real X display for a test (Xvfb), what it shows (the root window as a PNG), and
a person's input on it (xdotool).

The screenshot reads the root window with libX11's XGetImage through ctypes and
writes the PNG with zlib: no xwd or ImageMagick needed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import struct
import subprocess
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ZPIXMAP = 2
ALL_PLANES = ctypes.c_ulong(0xFFFFFFFF)


class _XImage(ctypes.Structure):
    """The head of Xlib's XImage: as far as the pixels' layout."""

    _fields_ = [
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("xoffset", ctypes.c_int),
        ("format", ctypes.c_int),
        ("data", ctypes.POINTER(ctypes.c_ubyte)),
        ("byte_order", ctypes.c_int),
        ("bitmap_unit", ctypes.c_int),
        ("bitmap_bit_order", ctypes.c_int),
        ("bitmap_pad", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("bytes_per_line", ctypes.c_int),
        ("bits_per_pixel", ctypes.c_int),
    ]


def missing_parts() -> list[str]:
    """What this machine lacks for a real-window test (empty: nothing)."""
    needed = {"Xvfb": "xvfb", "xdotool": "xdotool"}
    lacking = [f"apt-get install {pkg}" for cmd, pkg in needed.items() if not shutil.which(cmd)]
    if ctypes.util.find_library("X11") is None:
        lacking.append("apt-get install libx11-6")
    return lacking


@contextmanager
def xvfb(size: tuple[int, int] = (1280, 800)) -> Iterator[str]:
    """A private X server on a free display (Xvfb picks it); yields ``DISPLAY``."""
    read, write = os.pipe()
    process = subprocess.Popen(
        [
            "Xvfb",
            "-displayfd",
            str(write),
            "-screen",
            "0",
            f"{size[0]}x{size[1]}x24",
            "-nolisten",
            "tcp",
        ],  # fmt: skip
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as announced:
            number = announced.readline().strip()  # written once it accepts clients
        if not number.isdigit():
            raise RuntimeError(f"Xvfb did not start (exit code {process.poll()})")
        yield f":{number}"
    finally:
        process.terminate()
        process.wait(10)


def screenshot(display: str, path: Path) -> bytes:
    """Write what ``display`` shows to ``path`` (PNG); returns its RGB pixels."""
    x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XDefaultRootWindow.restype = ctypes.c_ulong
    x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    x11.XGetImage.restype = ctypes.POINTER(_XImage)
    x11.XGetImage.argtypes = [
        ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
        ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int,
    ]  # fmt: skip
    x11.XDisplayWidth.argtypes = x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
    x11.XDestroyImage.argtypes = [ctypes.POINTER(_XImage)]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    handle = x11.XOpenDisplay(display.encode())
    if not handle:
        raise RuntimeError(f"cannot open X display {display}")
    try:
        width, height = x11.XDisplayWidth(handle, 0), x11.XDisplayHeight(handle, 0)
        image = x11.XGetImage(handle, x11.XDefaultRootWindow(handle), 0, 0, width, height,
                              ALL_PLANES, ZPIXMAP)  # fmt: skip
        if not image:
            raise RuntimeError("XGetImage returned nothing")
        try:
            head = image.contents
            if head.bits_per_pixel != 32:
                raise RuntimeError(f"expected 32 bits per pixel, got {head.bits_per_pixel}")
            raw = ctypes.string_at(head.data, head.bytes_per_line * height)
            rgb = _rgb(raw, width, height, head.bytes_per_line)
        finally:
            x11.XDestroyImage(image)
    finally:
        x11.XCloseDisplay(handle)
    path.write_bytes(_png(rgb, width, height))
    return rgb


def _rgb(raw: bytes, width: int, height: int, stride: int) -> bytes:
    """Xvfb's 24-bit depth is BGRX in memory (little-endian): reorder to RGB."""
    out = bytearray(width * height * 3)
    for y in range(height):
        row = raw[y * stride : y * stride + width * 4]
        start = y * width * 3
        line = out[start : start + width * 3]
        line[0::3], line[1::3], line[2::3] = row[2::4], row[1::4], row[0::4]
        out[start : start + width * 3] = line
    return bytes(out)


def _png(rgb: bytes, width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + rgb[y * width * 3 : (y + 1) * width * 3] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 6))
        + chunk(b"IEND", b"")
    )


def colours(rgb: bytes) -> int:
    """How many distinct colours a sample of the pixels has (1: a blank screen)."""
    pixels = {rgb[i : i + 3] for i in range(0, len(rgb) - 2, 3 * 101)}
    return len(pixels)


def xdotool(display: str, *args: str) -> str:
    """Run xdotool on ``display`` (input through X, as a person's)."""
    done = subprocess.run(
        ["xdotool", *args], env=dict(os.environ, DISPLAY=display),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"xdotool {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout
