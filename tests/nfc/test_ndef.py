"""The NDEF file and SDM offsets: a tag mirroring its values at those offsets writes a URL whose query
is exactly the tap parameters."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from registry.nfc import ndef

PAGE = "https://twinmark.example/t/0x5FbDB2315678afecb367f032d93F642f64180aa3/10001"


def mirror(layout: ndef.SdmLayout, values: dict[int, str]) -> str:
    """What the tag does on a tap: write ASCII at each offset of its NDEF file; the URL a phone reads."""
    file = bytearray(layout.ndef_file)
    for offset, text in values.items():
        file[offset : offset + len(text)] = text.encode()
    assert len(file) == len(layout.ndef_file)
    return ndef.read_url(bytes(file))


def test_picc_and_mac_offsets() -> None:
    layout = ndef.sdm_layout(PAGE)
    assert ndef.read_url(layout.ndef_file) == layout.url and layout.url.startswith(PAGE + "?picc_data=")
    assert layout.ndef_file[2:7] == bytes([0xD1, 0x01, len(layout.ndef_file) - 6, 0x55, 0x04])  # https://
    assert layout.sdm_mac_input_offset == layout.sdm_mac_offset  # nothing between: empty MAC input
    url = mirror(layout, {layout.picc_data_offset: "AB" * 16, layout.sdm_mac_offset: "CD" * 8})
    assert dict(parse_qsl(urlsplit(url).query)) == {"picc_data": "AB" * 16, "cmac": "CD" * 8}
    assert url.startswith(PAGE)


def test_offsets_with_encrypted_file_data_and_a_plain_http_url() -> None:
    layout = ndef.sdm_layout("http://127.0.0.1:8000/t/0xabc/1", enc_bytes=32)
    assert layout.ndef_file[6] == 0x03 and layout.enc_length == 64
    assert layout.enc_offset == layout.sdm_mac_input_offset == layout.picc_data_offset + 32 + len("&enc=")
    url = mirror(
        layout,
        {layout.picc_data_offset: "1" * 32, layout.sdm_mac_input_offset: "2" * 64, layout.sdm_mac_offset: "3" * 16},
    )
    assert dict(parse_qsl(urlsplit(url).query)) == {"picc_data": "1" * 32, "enc": "2" * 64, "cmac": "3" * 16}


def test_a_url_too_long_for_the_tag_is_refused() -> None:
    with pytest.raises(ndef.UrlTooLong):
        ndef.sdm_layout("https://" + "a" * 200 + "/t/0x00/1")
    with pytest.raises(ValueError):
        ndef.sdm_layout(PAGE, enc_bytes=5)
