"""NFC over the real stack (SQLite and PostgreSQL): enrolment, taps made by simulated tags with fresh
keys (genuine, replayed, reordered, forged, another twin's, unknown, malformed), concurrent taps,
HaLo taps and challenge-response, and the brand's master key never leaving the service."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlmodel import select

from registry.db.engine import session_scope
from registry.nfc import diversify, ndef
from registry.nfc.models import NfcChallenge, NfcMasterKey
from registry.nfc.service import enrol_challenge
from registry.nfc.taps import TapResult, check_tap
from tests.api.conftest import Stack, physical
from tests.nfc.simulator import HaloChip, Ntag424

MASTER = os.urandom(16)


def new_tag(master: bytes = MASTER, **kw: Any) -> Ntag424:
    uid = b"\x04" + os.urandom(6)
    return Ntag424(uid, diversify.meta_read_key(master), diversify.file_read_key(master, uid), **kw)


@pytest.fixture(scope="module")
def world(stack: Stack) -> dict[str, Any]:
    headers, collection = stack.new_brand("Maison Tap", "TAPS")
    other_headers, other_collection = stack.new_brand("Other House", "OTHR")
    bound_tag, chip = new_tag(), HaloChip()
    content = physical("NFC-0")
    content["nfc"] = [{"type": "ntag424", "uid": bound_tag.uid.hex()}, {"type": "halo", "address": chip.address}]
    twins = [content, physical("NFC-1"), physical("NFC-2")]
    job = stack.wait_job(headers, stack.client.post("/v1/batches", json={"twins": twins}, headers=headers).json()["id"])
    assert job["state"] == "completed", job
    other_job = stack.wait_job(
        other_headers,
        stack.client.post("/v1/twins", json=physical("OTHER-0"), headers=other_headers).json()["id"],
    )
    r = stack.client.put("/v1/brands/me/nfc/master-key", json={"key": MASTER.hex()}, headers=headers)
    assert r.status_code == 200, r.text
    return {
        "headers": headers,
        "collection": collection,
        "tokens": [t["token_id"] for t in job["twins"]],
        "other_headers": other_headers,
        "other_collection": other_collection,
        "other_token": other_job["twins"][0]["token_id"],
        "bound_tag": bound_tag,
        "chip": chip,
        "answers": [r.text],
    }


def path(world: dict[str, Any], i: int, suffix: str) -> str:
    return f"/v1/twins/{world['collection']}/{world['tokens'][i]}/{suffix}"


def enroll(stack: Stack, world: dict[str, Any], i: int, body: dict[str, str], status: int = 201) -> dict[str, Any]:
    r = stack.client.post(path(world, i, "nfc-tags"), json=body, headers=world["headers"])
    assert r.status_code == status, r.text
    world["answers"].append(r.text)
    return dict(r.json())


def halo_enrolment(stack: Stack, world: dict[str, Any], i: int, chip: HaloChip, **identity: str) -> dict[str, str]:
    """A HaLo enrolment body with the chip's proof of possession (its signature over the twin's challenge)."""
    challenge = enrol_challenge(stack.runtime.chain.chain_id, world["collection"], world["tokens"][i])
    return {"type": "halo", **identity, "signature": chip.sign_challenge(challenge.hex())}


def tap(stack: Stack, world: dict[str, Any], i: int, params: dict[str, str], status: int = 200) -> dict[str, Any]:
    r = stack.client.get(path(world, i, "tap"), params=params)
    assert r.status_code == status, r.text
    world["answers"].append(r.text)
    return dict(r.json())


def flip(hex_text: str, index: int = 0) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[index] ^= 0x01
    return raw.hex().upper()


def test_enrolment_binding_and_conflicts(stack: Stack, world: dict[str, Any]) -> None:
    tag: Ntag424 = world["bound_tag"]
    out = enroll(stack, world, 0, {"type": "ntag424", "uid": tag.uid.hex()})
    assert out["bound_in_content"] is True and out["uid"] == tag.uid.hex().upper()
    assert out["content_binding"] == {
        "type": "ntag424",
        "uid_sha256": hashlib.sha256(tag.uid).hexdigest(),
        "address": None,
    }
    assert out["last_counter"] is None
    # Programmed as the answer says, the tag's first tap lands on the twin's page and verifies.
    sdm = out["sdm"]
    page = f"{stack.runtime.settings.base_url}/t/{world['collection']}/{world['tokens'][0]}"
    assert sdm["url"].startswith(page + "?picc_data=") and sdm["sdm_options"] == "C1"
    ndef_file = bytearray(bytes.fromhex(sdm["ndef_file"]))
    tapped = tag.params_at(1)
    for offset, text in ((sdm["picc_data_offset"], tapped["picc_data"]), (sdm["sdm_mac_offset"], tapped["cmac"])):
        ndef_file[offset : offset + len(text)] = text.encode()
    url = urlsplit(ndef.read_url(bytes(ndef_file)))
    assert url.path == f"/t/{world['collection']}/{world['tokens'][0]}"
    first = tap(stack, world, 0, dict(parse_qsl(url.query)))
    assert (first["code"], first["counter"], first["bound_in_content"]) == ("genuine-fresh", 1, True)
    # One tag, one twin: the same UID on another twin (or again on this one) is refused.
    for i in (0, 1):
        r = stack.client.post(
            path(world, i, "nfc-tags"), json={"type": "ntag424", "uid": tag.uid.hex()}, headers=world["headers"]
        )
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
    unbound = new_tag()
    assert enroll(stack, world, 1, {"type": "ntag424", "uid": unbound.uid.hex()})["bound_in_content"] is False
    listed = stack.client.get(path(world, 0, "nfc-tags"), headers=world["headers"])
    assert listed.status_code == 200
    world["answers"].append(listed.text)
    assert [t["uid"] for t in listed.json()["tags"]] == [tag.uid.hex().upper()]
    assert not any("key" in field for t in listed.json()["tags"] for field in t if field != "public_key")
    # Bad bodies are 422 problems, not 500.
    for body in (
        {"type": "ntag424"},
        {"type": "ntag424", "uid": "zz"},
        {"type": "halo"},
        {"type": "halo", "public_key": "04" + "00" * 64},
    ):
        r = stack.client.post(path(world, 2, "nfc-tags"), json=body, headers=world["headers"])
        assert r.status_code == 422, (body, r.text)


def test_another_brand_cannot_enrol_on_or_read_your_twin(stack: Stack, world: dict[str, Any]) -> None:
    intruder = world["other_headers"]
    stack.client.put("/v1/brands/me/nfc/master-key", json={"key": os.urandom(16).hex()}, headers=intruder)
    planted = new_tag()
    r = stack.client.post(
        path(world, 2, "nfc-tags"), json={"type": "ntag424", "uid": planted.uid.hex()}, headers=intruder
    )
    assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
    r = stack.client.post(
        path(world, 2, "nfc-tags"), json={"type": "halo", "address": HaloChip().address}, headers=intruder
    )
    assert r.status_code == 404
    assert stack.client.get(path(world, 0, "nfc-tags"), headers=intruder).status_code == 404
    assert stack.client.get(path(world, 0, "nfc-tags")).status_code == 401  # and nobody anonymous
    # Nothing was bound: the planted tag is unknown on that twin.
    assert stack.client.get(path(world, 2, "nfc-tags"), headers=world["headers"]).json()["tags"] == []
    # The intruder's own key replaced nothing of ours: our tag still verifies.
    assert tap(stack, world, 0, world["bound_tag"].params_at(2))["code"] == "genuine-fresh"


def test_ntag_genuine_replayed_reordered_and_forged(stack: Stack, world: dict[str, Any]) -> None:
    tag = new_tag(counter=4)
    enroll(stack, world, 2, {"type": "ntag424", "uid": tag.uid.hex()})
    first = tap(stack, world, 2, tag.params_at(7))
    assert (first["code"], first["genuine"], first["fresh"], first["counter"]) == ("genuine-fresh", True, True, 7)
    assert first["bound_in_content"] is False
    replay = tap(stack, world, 2, tag.params_at(7))  # a new URL with the same counter: a replay
    assert (replay["code"], replay["genuine"], replay["fresh"]) == ("replayed", True, False)
    older = tap(stack, world, 2, tag.params_at(5))  # counter 5 after 7
    assert older["code"] == "replayed" and older["counter"] == 5
    good = tag.params_at(8)
    forged_mac = dict(good, cmac=flip(good["cmac"], 7))
    assert tap(stack, world, 2, forged_mac)["code"] == "forged"
    # PICC data claiming counter 9, made by someone holding the brand-wide meta key but not the
    # tag's file key: it decrypts to the right UID, but the MAC (for counter 8) does not cover it.
    forged_picc = dict(good, picc_data=tag.params_at(9)["picc_data"])
    assert tap(stack, world, 2, forged_picc)["code"] == "forged"
    # Flipped bits decrypt to noise: refused, as forged or (noise that looks like a UID) unknown.
    garbled = tap(stack, world, 2, dict(good, picc_data=flip(good["picc_data"], 3)))
    assert garbled["code"] in ("forged", "unknown-tag") and not garbled["genuine"]
    assert tap(stack, world, 2, good)["code"] == "genuine-fresh"  # the forgeries did not spend counter 8
    listed = stack.client.get(path(world, 2, "nfc-tags"), headers=world["headers"]).json()["tags"]
    assert listed[0]["last_counter"] == 8


def test_ntag_plaintext_mirroring(stack: Stack, world: dict[str, Any]) -> None:
    tag = new_tag()
    enroll(stack, world, 2, {"type": "ntag424", "uid": tag.uid.hex()})
    assert tap(stack, world, 2, tag.plain_params_at(3))["code"] == "genuine-fresh"
    assert tap(stack, world, 2, tag.plain_params_at(3))["code"] == "replayed"
    claimed_higher = dict(tag.plain_params_at(4), ctr="000009")  # a counter the MAC does not cover
    assert tap(stack, world, 2, claimed_higher)["code"] == "forged"


def test_ntag_with_encrypted_file_data(stack: Stack, world: dict[str, Any]) -> None:
    data = os.urandom(32)
    tag = new_tag(file_data=data)
    enroll(stack, world, 2, {"type": "ntag424", "uid": tag.uid.hex()})
    params = tag.tap()
    out = tap(stack, world, 2, params)
    assert out["code"] == "genuine-fresh" and out["file_data"] == data.hex()
    tampered = dict(tag.tap())
    tampered["enc"] = flip(tampered["enc"], 20)  # the MAC covers the encrypted data
    assert tap(stack, world, 2, tampered)["code"] == "forged"


def test_ntag_tag_of_another_twin_and_unknown_tag(stack: Stack, world: dict[str, Any]) -> None:
    tag = new_tag()
    enroll(stack, world, 1, {"type": "ntag424", "uid": tag.uid.hex()})
    moved = tap(stack, world, 2, tag.tap())
    assert (moved["code"], moved["genuine"], moved["fresh"]) == ("wrong-twin", False, False)
    assert tap(stack, world, 1, tag.params_at(tag.counter))["code"] == "genuine-fresh"  # its own twin
    # A tag of this twin programmed without the counter mirrored: no replay check possible, refused.
    no_counter = new_tag(picc_tag=0x87)
    enroll(stack, world, 2, {"type": "ntag424", "uid": no_counter.uid.hex()})
    assert tap(stack, world, 2, no_counter.tap())["code"] == "forged"
    stranger = new_tag()  # made with the brand's key, never enrolled
    assert tap(stack, world, 2, stranger.tap())["code"] == "unknown-tag"
    foreign = new_tag(os.urandom(16))  # another master key: its PICC data decrypts to noise here
    refused = tap(stack, world, 2, foreign.tap())
    assert refused["code"] in ("forged", "unknown-tag") and not refused["genuine"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"picc_data": "ZZ" * 16, "cmac": "00" * 8},
        {"picc_data": "00" * 15, "cmac": "00" * 8},
        {"picc_data": "00" * 16},
        {"picc_data": "00" * 16, "cmac": "00" * 8, "enc": "ABC"},
        {"cmac": "00" * 8},
        {"uid": "04" * 7, "ctr": "0000", "cmac": "00" * 8},
        {"rnd": "00" * 31, "rndsig": "30" * 70},
        {"rnd": "00" * 32, "rndsig": "ff" * 70},
        {"rnd": "00" * 32},
        {"picc_data": "00" * 16, "cmac": "00" * 8, "rnd": "00" * 32, "rndsig": "30" * 70},
        {"picc_data": "\u00e9" * 32, "cmac": "00" * 8},
    ],
)
def test_malformed_tap_parameters_are_a_400_problem(
    stack: Stack, world: dict[str, Any], params: dict[str, str]
) -> None:
    r = stack.client.get(path(world, 0, "tap"), params=params)
    assert r.status_code == 400, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["type"].endswith("/malformed-tap")


def test_check_tap_for_the_page(stack: Stack, world: dict[str, Any]) -> None:
    """What the page calls with its own query: None without a tap, a verdict beside other parameters."""
    contract, token = world["collection"], world["tokens"][0]
    with session_scope(stack.runtime.engine) as s:
        assert check_tap(s, stack.runtime.server_key, contract, token, {"lang": "zh"}) is None
        params = world["bound_tag"].params_at(50) | {"lang": "zh"}
        result = check_tap(s, stack.runtime.server_key, contract.lower(), token, params)
    assert isinstance(result, TapResult)
    assert (result.kind, result.code, result.fresh, result.bound_in_content) == ("ntag424", "genuine-fresh", True, True)


def test_concurrent_taps_with_one_counter_give_one_fresh(stack: Stack, world: dict[str, Any]) -> None:
    tag, chip = new_tag(), HaloChip()
    enroll(stack, world, 2, {"type": "ntag424", "uid": tag.uid.hex()})
    enroll(stack, world, 2, halo_enrolment(stack, world, 2, chip, public_key=chip.public_key))
    contract, token = world["collection"], world["tokens"][2]
    for params in (tag.params_at(3), chip.params_at(3)):
        barrier, codes, errors = threading.Barrier(6), list[str](), list[Exception]()

        def one(
            p: dict[str, str] = params,
            barrier: threading.Barrier = barrier,
            codes: list[str] = codes,
            errors: list[Exception] = errors,
        ) -> None:
            try:
                barrier.wait()
                with session_scope(stack.runtime.engine) as s:
                    result = check_tap(s, stack.runtime.server_key, contract, token, p)
                assert result is not None
                codes.append(result.code)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        assert sorted(codes) == ["genuine-fresh"] + ["replayed"] * 5


def test_halo_rnd_taps(stack: Stack, world: dict[str, Any]) -> None:
    chip: HaloChip = world["chip"]
    out = enroll(stack, world, 0, halo_enrolment(stack, world, 0, chip, address=chip.address))  # by address only
    assert out["bound_in_content"] is True and out["address"].lower() == chip.address
    fresh = tap(stack, world, 0, chip.params_at(10))
    assert (fresh["kind"], fresh["code"], fresh["counter"], fresh["bound_in_content"]) == (
        "halo",
        "genuine-fresh",
        10,
        True,
    )
    assert tap(stack, world, 0, chip.params_at(10))["code"] == "replayed"
    assert tap(stack, world, 0, chip.params_at(9))["code"] == "replayed"
    good = chip.params_at(11)
    assert tap(stack, world, 0, dict(good, rndsig=flip(good["rndsig"], 10)))["code"] == "forged"
    assert tap(stack, world, 0, dict(good, rnd=flip(good["rnd"], 3)))["code"] == "forged"  # counter 11 -> 10
    assert tap(stack, world, 0, {k: v for k, v in good.items() if k != "pk2"})["code"] == "genuine-fresh"
    assert tap(stack, world, 1, chip.params_at(12))["code"] == "wrong-twin"
    assert tap(stack, world, 0, HaloChip().tap())["code"] == "unknown-tag"


def test_halo_challenge_response(stack: Stack, world: dict[str, Any]) -> None:
    chip = HaloChip()
    enroll(stack, world, 1, halo_enrolment(stack, world, 1, chip, public_key=chip.public_key))
    body = {"contract": world["collection"], "token_id": world["tokens"][1]}

    def challenge() -> dict[str, Any]:
        r = stack.client.post("/v1/nfc/challenges", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def answer(c: dict[str, Any], signature: str, status: int = 200) -> dict[str, Any]:
        r = stack.client.post(f"/v1/nfc/challenges/{c['id']}", json={"signature": signature})
        assert r.status_code == status, r.text
        return dict(r.json())

    c = challenge()
    ok = answer(c, chip.sign_challenge(c["nonce"]))
    assert ok["present"] is True and ok["address"].lower() == chip.address and ok["bound_in_content"] is False
    assert answer(c, chip.sign_challenge(c["nonce"]), 410)["type"].endswith("/gone")  # reused
    c = challenge()
    wrong = answer(c, HaloChip().sign_challenge(c["nonce"]))
    assert (wrong["present"], wrong["code"]) == (False, "forged")
    c = challenge()
    other_nonce = answer(c, chip.sign_challenge(os.urandom(32).hex()))  # the chip signed something else
    assert other_nonce["present"] is False
    c = challenge()
    assert answer(c, world["chip"].sign_challenge(c["nonce"]))["code"] == "wrong-twin"  # twin 0's chip
    c = challenge()
    with session_scope(stack.runtime.engine) as s:
        row = s.get(NfcChallenge, c["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert answer(c, chip.sign_challenge(c["nonce"]), 410)["detail"].endswith("ask for a new one")
    assert answer({"id": "nope"}, chip.sign_challenge(c["nonce"]), 404)["status"] == 404
    assert answer(challenge(), "30" * 70, 422)["status"] == 422  # malformed: not DER
    r = stack.client.post(
        "/v1/nfc/challenges", json={"contract": world["collection"], "token_id": world["tokens"][2] + 999}
    )
    assert r.status_code == 404


def test_master_key_is_sealed_and_never_in_an_answer_or_a_log(
    stack: Stack, world: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = os.urandom(16)
    logger = logging.getLogger("tests.nfc")
    r = stack.client.put("/v1/brands/me/nfc/master-key", json={"key": key.hex().upper()}, headers=world["headers"])
    assert r.status_code == 200 and r.json()["replaced"] is True
    world["answers"].append(r.text)
    tag = new_tag(key)  # tags programmed under the new key verify; the old key's tags no longer do
    enroll(stack, world, 2, {"type": "ntag424", "uid": tag.uid.hex()})
    assert tap(stack, world, 2, tag.tap())["code"] == "genuine-fresh"
    bad = stack.client.put("/v1/brands/me/nfc/master-key", json={"key": key.hex()[:-1] + "g"}, headers=world["headers"])
    assert bad.status_code == 422
    world["answers"].append(bad.text)
    logger.warning("a careless log line: %s", key.hex())  # scrubbed: the service registered the key
    with session_scope(stack.runtime.engine) as s:
        rows = s.exec(select(NfcMasterKey)).all()
    for secret in (key.hex(), key.hex().upper(), MASTER.hex(), MASTER.hex().upper()):
        assert not any(secret in a for a in world["answers"])
        assert secret not in caplog.text
        assert not any(secret.lower() in row.sealed_key.lower() for row in rows)
    assert "[redacted]" in caplog.text
    # Restore the module's key for any later test.
    stack.client.put("/v1/brands/me/nfc/master-key", json={"key": MASTER.hex()}, headers=world["headers"])


def test_a_chip_or_uid_seen_in_a_tap_cannot_be_taken_by_another_brand(stack: Stack, world: dict[str, Any]) -> None:
    """Both identities are public after one tap. Another brand enrolling them on its own twin changes
    nothing for the brand holding the tags, and a HaLo chip needs the chip's own signature to enrol."""
    squatter, twin = world["other_headers"], f"/v1/twins/{world['other_collection']}/{world['other_token']}"
    chip, tag = HaloChip(), new_tag()
    enroll(stack, world, 1, {"type": "ntag424", "uid": tag.uid.hex()})
    enroll(stack, world, 1, halo_enrolment(stack, world, 1, chip, address=chip.address))
    stack.client.put("/v1/brands/me/nfc/master-key", json={"key": os.urandom(16).hex()}, headers=squatter)
    # Without the chip: no signature, or a signature over our twin's challenge (replayed from us), or another key's.
    ours = halo_enrolment(stack, world, 1, chip, address=chip.address)["signature"]
    for extra in ({}, {"signature": ours}, {"signature": HaloChip().sign_challenge("00" * 32)}):
        r = stack.client.post(
            f"{twin}/nfc-tags", json={"type": "halo", "address": chip.address} | extra, headers=squatter
        )
        assert r.status_code == 422 and "signature" in r.json()["detail"], r.text
    # The NTAG UID can be listed on the squatter's twin, but taps are checked with the squatter's keys,
    # and ours keep verifying on our twin.
    assert (
        stack.client.post(
            f"{twin}/nfc-tags", json={"type": "ntag424", "uid": tag.uid.hex()}, headers=squatter
        ).status_code
        == 201
    )
    on_theirs = stack.client.get(f"{twin}/tap", params=tag.tap()).json()
    assert not on_theirs["genuine"] and on_theirs["code"] in ("forged", "unknown-tag")
    assert tap(stack, world, 1, tag.params_at(tag.counter + 1))["code"] == "genuine-fresh"
    assert tap(stack, world, 1, chip.params_at(40))["code"] == "genuine-fresh"
