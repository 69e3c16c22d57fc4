"""QR codes of GS1 Digital Links, for labels: error correction level Q (25 % of the symbol can be
lost: labels get scuffed, and leave room for a small logo), never boosted (so a symbol's level is
always the documented one), with the 4-module quiet zone the QR specification requires."""

from __future__ import annotations

import io

import segno

ERROR = "q"
BORDER = 4  # modules of quiet zone around the symbol
MIN_SIZE, MAX_SIZE, DEFAULT_SIZE = 64, 4096, 512  # edge length in pixels, quiet zone included


def code(text: str) -> segno.QRCode:
    return segno.make_qr(text, error=ERROR, boost_error=False)


def scale_for(qr: segno.QRCode, size: int) -> int:
    """Whole pixels per module so the symbol with its quiet zone is at most `size` pixels wide
    (at least one pixel per module)."""
    modules = int(qr.symbol_size(scale=1, border=BORDER)[0])
    return max(1, size // modules)


def svg(text: str, size: int = DEFAULT_SIZE) -> bytes:
    qr = code(text)
    out = io.BytesIO()
    qr.save(out, kind="svg", scale=scale_for(qr, size), border=BORDER, xmldecl=True, title=text)
    return out.getvalue()


def png(text: str, size: int = DEFAULT_SIZE) -> bytes:
    qr = code(text)
    out = io.BytesIO()
    qr.save(out, kind="png", scale=scale_for(qr, size), border=BORDER)
    return out.getvalue()
