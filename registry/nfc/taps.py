"""Taps: is this tap genuine (made by an enrolled tag of this twin) and fresh (never seen before)?

`check_tap` reads the tap parameters of a page or API query: NTAG 424 DNA SUN (`picc_data`, optional
`enc`, `cmac`; or plaintext `uid`, `ctr`, `cmac`) or HaLo (`rnd`, `rndsig`, `pk2`, and `pk1` which is
ignored). A tap is fresh only if its counter is strictly above the highest one accepted for that
tag; the update is one conditional UPDATE, so of two concurrent taps with one counter only one wins.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from eth_utils.address import to_checksum_address
from sqlalchemy import update
from sqlmodel import Session, col, select
from web3 import Web3

from registry.errors import TwinmarkError
from registry.nfc import diversify, halo, sun
from registry.nfc.models import NfcTag
from registry.nfc.schemas import TapCode
from registry.nfc.service import bound_in_content, master_key
from registry.twins.models import Twin

Kind = Literal["ntag424", "halo"]
_HEX = re.compile(r"[0-9A-Fa-f]*")
_MAX_ENC_HEX = 512  # 256 bytes of mirrored file data is far more than an NDEF URL holds


class MalformedTap(TwinmarkError):
    code, status, title = "malformed-tap", 400, "Malformed tap parameters"


@dataclass(frozen=True)
class TapResult:
    """`genuine`: the tap was made by an enrolled tag of THIS twin (MAC or signature checks);
    `fresh`: genuine and its counter is new. Only `code == "genuine-fresh"` means both."""

    kind: Kind
    genuine: bool
    fresh: bool
    counter: int | None
    bound_in_content: bool
    code: TapCode
    detail: str
    file_data: str | None = None
    tag_id: str | None = None  # the enrolled tag that made a genuine tap (UID or chip address)


def _result(kind: Kind, code: TapCode, detail: str, counter: int | None = None) -> TapResult:
    return TapResult(kind, False, False, counter, False, code, detail)


def _hex(params: Mapping[str, str], name: str, lengths: tuple[int, ...]) -> bytes:
    value = params.get(name, "")
    if not _HEX.fullmatch(value) or len(value) not in lengths:
        raise ValueError(f"{name} must be {' or '.join(str(n) for n in lengths)} hex digits")
    return bytes.fromhex(value)


def check_tap(
    session: Session, server_key: str, contract: str, token_id: int, params: Mapping[str, str]
) -> TapResult | None:
    """The verdict on the tap in `params` (a page's query) for twin (contract, token_id); None when
    `params` holds no tap. Commits `session` once a counter is taken, so the tag's row is not held
    locked while the caller goes on (a page verifying the twin on chain)."""
    ntag = any(k in params for k in ("picc_data", "enc", "cmac"))
    chip = any(k in params for k in ("rnd", "rndsig"))
    if not ntag and not chip:
        return None
    kind: Kind = "ntag424" if ntag else "halo"
    if ntag and chip:
        return _result(kind, "malformed", "the query mixes NTAG 424 and HaLo tap parameters")
    if not Web3.is_address(contract):
        return _result(kind, "malformed", f"{contract!r} is not a contract address")
    twin = session.get(Twin, (to_checksum_address(contract), token_id))
    if twin is None:
        return _result(kind, "unknown-tag", "this twin is not registered here, so no tag is bound to it")
    try:
        return _ntag(session, server_key, twin, params) if ntag else _halo(session, twin, params)
    except ValueError as exc:
        return _result(kind, "malformed", str(exc))


def _ntag(session: Session, server_key: str, twin: Twin, params: Mapping[str, str]) -> TapResult:
    mac = _hex(params, "cmac", (16,))
    enc_text = params.get("enc")
    enc = _hex(params, "enc", tuple(range(32, _MAX_ENC_HEX + 1, 32))) if enc_text is not None else None
    master = master_key(session, server_key, twin.brand_id)
    if "picc_data" in params:
        picc_enc = _hex(params, "picc_data", (32,))
        if master is None:
            return _result("ntag424", "unknown-tag", "the twin's brand has enrolled no NTAG 424 tags")
        try:
            picc = sun.decrypt_picc(diversify.meta_read_key(master), picc_enc)
        except sun.SunError:  # noise or a tag without UID and counter mirrored: both refused, one answer
            detail = "the PICC data does not decrypt, under this twin's brand key, to a UID and read counter"
            return _result("ntag424", "forged", detail)
        uid, counter = picc.uid, picc.counter
    else:  # plaintext mirroring: UID and counter (big-endian) in the clear, the MAC proves them
        if enc is not None:
            raise ValueError("enc needs encrypted PICC data (picc_data)")
        uid, counter = _hex(params, "uid", (14,)), int.from_bytes(_hex(params, "ctr", (6,)), "big")
    # Only the twin's brand's tags: the PICC data decrypted under its key, so the tag must be one of its own.
    query = select(NfcTag).where(
        NfcTag.brand_id == twin.brand_id, NfcTag.kind == "ntag424", NfcTag.identity == uid.hex().upper()
    )
    tag = session.exec(query).first()
    if tag is None or master is None:
        return _result("ntag424", "unknown-tag", "no tag of this twin's brand has this UID", counter)
    file_key = diversify.file_read_key(master, uid)
    expected = sun.sdm_mac(file_key, uid, counter, sun.mac_input(enc_text))
    if not hmac.compare_digest(expected, mac):
        return _result(
            "ntag424", "forged", "the MAC does not match: this tap was not made by the enrolled tag", counter
        )
    if (tag.collection, tag.token_id) != (twin.collection, twin.token_id):
        detail = f"a genuine tag, but bound to another twin ({tag.collection} #{tag.token_id})"
        return _result("ntag424", "wrong-twin", detail, counter)
    data = sun.decrypt_file_data(file_key, uid, counter, enc).hex() if enc is not None else None
    return _advance(session, twin, tag, counter, file_data=data)


def _halo(session: Session, twin: Twin, params: Mapping[str, str]) -> TapResult:
    rnd = _hex(params, "rnd", (64,))
    sig = _hex(params, "rndsig", tuple(range(128, 161, 2)))
    counter = halo.rnd_counter(rnd)
    candidates = halo.signers(halo.rnd_digest(rnd), sig)  # HaloError is a ValueError: malformed
    if "pk2" in params:
        named = halo.address(halo.public_key(_hex(params, "pk2", (66, 128, 130))))
        if named not in candidates:
            enrolled = _halo_tags(session, twin, [named])
            code: TapCode = "forged" if enrolled else "unknown-tag"
            return _result("halo", code, "rndsig is not pk2's signature over rnd", counter)
        candidates = [named]
    tags = _halo_tags(session, twin, candidates)
    if not tags:
        return _result("halo", "unknown-tag", "no enrolled chip signed this tap", counter)
    mine = [t for t in tags if (t.collection, t.token_id) == (twin.collection, twin.token_id)]
    if not mine:
        detail = f"a genuine chip, but bound to another twin ({tags[0].collection} #{tags[0].token_id})"
        return _result("halo", "wrong-twin", detail, counter)
    return _advance(session, twin, mine[0], counter)


def _halo_tags(session: Session, twin: Twin, addresses: list[str]) -> list[NfcTag]:
    """The chips with these addresses enrolled by the twin's brand (another brand's enrolment of an
    address it has seen never counts here)."""
    query = select(NfcTag).where(
        NfcTag.brand_id == twin.brand_id, NfcTag.kind == "halo", col(NfcTag.identity).in_(addresses)
    )
    return list(session.exec(query).all())


def _advance(session: Session, twin: Twin, tag: NfcTag, counter: int, *, file_data: str | None = None) -> TapResult:
    """Takes `counter` for the tag if it is above the last one taken: one conditional UPDATE, whose
    row count says who won (the database serialises concurrent writers on the row)."""
    stmt = (
        update(NfcTag)
        .where(col(NfcTag.id) == tag.id, col(NfcTag.last_counter) < counter)
        .values(last_counter=counter, last_tap_at=datetime.now(UTC))
    )
    fresh = session.connection().execute(stmt).rowcount == 1
    session.commit()
    bound = bound_in_content(twin, tag)
    kind: Kind = "ntag424" if tag.kind == "ntag424" else "halo"
    if fresh:
        detail = f"this tap is genuine and fresh (counter {counter})"
        return TapResult(kind, True, True, counter, bound, "genuine-fresh", detail, file_data, tag.identity)
    detail = f"a genuine tap, but counter {counter} is not above the last one seen: a replayed or older tap"
    return TapResult(kind, True, False, counter, bound, "replayed", detail, file_data, tag.identity)
