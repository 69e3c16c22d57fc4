"""The NDEF file a brand writes to an NTAG 424 DNA (file 02) and the SDM offsets that make the tag
mirror a tap into it: `{page}?picc_data=<32 hex>[&enc=<hex>]&cmac=<16 hex>`.

Offsets count bytes from the start of the NDEF file: 2 bytes NLEN, the record header (D1 01 <len>
55, or C1 01 <4-byte len> 55 for a payload over 255 bytes), the URI prefix code, then the URI text.
(AN12196's example, `https://choose.url.com/ntag424?e=...`, has its PICC data at 0x20 = 7 + 25.)
"""

from __future__ import annotations

from dataclasses import dataclass

NDEF_FILE_SIZE = 256  # file 02 of an NTAG 424 DNA
_PREFIXES = (("https://www.", 0x02), ("http://www.", 0x01), ("https://", 0x04), ("http://", 0x03))


class UrlTooLong(ValueError):
    """The tap URL does not fit the tag's NDEF file."""


@dataclass(frozen=True)
class SdmLayout:
    url: str  # the URL as written, zeros where the tag mirrors its values
    ndef_file: bytes
    picc_data_offset: int
    sdm_mac_input_offset: int
    sdm_mac_offset: int
    enc_offset: int | None
    enc_length: int | None  # in ASCII characters (twice the bytes of file data mirrored)


def sdm_layout(page_url: str, enc_bytes: int = 0) -> SdmLayout:
    """The NDEF file and offsets for taps that land on `page_url`, mirroring `enc_bytes` (0 or a
    multiple of 16) of encrypted file data."""
    if enc_bytes % 16:
        raise ValueError("encrypted file data is a multiple of 16 bytes")
    query = "?picc_data=" + "0" * 32
    if enc_bytes:
        query += "&enc=" + "0" * (2 * enc_bytes)
    url = page_url + query + "&cmac=" + "0" * 16
    code, rest = next(((c, url[len(p) :]) for p, c in _PREFIXES if url.startswith(p)), (0x00, url))
    payload = bytes([code]) + rest.encode()
    if len(payload) <= 255:
        record = bytes([0xD1, 0x01, len(payload), 0x55]) + payload
    else:
        record = bytes([0xC1, 0x01]) + len(payload).to_bytes(4, "big") + b"\x55" + payload
    ndef_file = len(record).to_bytes(2, "big") + record
    if len(ndef_file) > NDEF_FILE_SIZE:
        raise UrlTooLong(f"the tap URL needs {len(ndef_file)} bytes; the tag's NDEF file holds {NDEF_FILE_SIZE}")
    start = len(ndef_file) - len(rest)  # where the URI text (after the prefix) begins

    def at(marker: str) -> int:
        return start + rest.index(marker) + len(marker)

    picc = at("?picc_data=")
    mac = at("&cmac=")
    enc = at("&enc=") if enc_bytes else None
    return SdmLayout(
        url=url,
        ndef_file=ndef_file,
        picc_data_offset=picc,
        sdm_mac_input_offset=enc if enc is not None else mac,
        sdm_mac_offset=mac,
        enc_offset=enc,
        enc_length=2 * enc_bytes if enc_bytes else None,
    )


def read_url(ndef_file: bytes) -> str:
    """The URI of an NDEF file holding one URI record (what a phone reads from the tag)."""
    length = int.from_bytes(ndef_file[:2], "big")
    record = ndef_file[2 : 2 + length]
    short = bool(record[0] & 0x10)
    payload = record[4:] if short else record[7:]
    prefix = {c: p for p, c in _PREFIXES}.get(payload[0], "")
    return prefix + payload[1:].decode()
