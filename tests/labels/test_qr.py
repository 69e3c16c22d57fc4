"""QR images decode back to the exact symbol of the text they promise (error correction Q)."""

from __future__ import annotations

import pytest
import segno

from registry.labels import qr
from tests.labels.qrread import png_matrix, png_pixels, svg_matrix

LINK = "https://id.twinmark.test/01/07612345678900/10/L-7/21/A%2FB%3AC"


def expected(text: str) -> segno.QRCode:
    return segno.make_qr(text, error="q", boost_error=False)


def test_png_and_svg_carry_the_symbol_of_the_link() -> None:
    want = expected(LINK)
    modules = want.symbol_size(scale=1, border=0)[0]
    matrix = [[bool(v) for v in row] for row in want.matrix]
    assert png_matrix(qr.png(LINK), modules) == matrix
    grid, root = svg_matrix(qr.svg(LINK), modules)
    assert grid == matrix
    assert root.find("{http://www.w3.org/2000/svg}title").text == LINK  # type: ignore[union-attr]
    assert qr.code(LINK).error == "Q"
    other = [[bool(v) for v in row] for row in expected(LINK + "X").matrix]
    assert png_matrix(qr.png(LINK + "X"), len(other)) != matrix  # the reader tells symbols apart


@pytest.mark.parametrize("size", [64, 200, 512, 4096])
def test_the_size_bounds_the_edge_in_whole_pixels_per_module(size: int) -> None:
    total = expected(LINK).symbol_size(scale=1, border=4)[0]
    width, height, _ = png_pixels(qr.png(LINK, size))
    assert width == height == max(1, size // total) * total
    assert width <= max(size, total)
    svg_width = int(qr.svg(LINK, size).split(b'width="')[1].split(b'"')[0])
    assert svg_width == width
