"""Every published vector in tests/data/nfc-vectors.json (AN12196 SUN, AN10922, libhalo) passes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from registry.nfc import diversify, halo, sun

VECTORS: dict[str, Any] = json.loads((Path(__file__).parents[1] / "data" / "nfc-vectors.json").read_text())
SUN = {c["name"]: c for c in VECTORS["ntag424_sun_aes"]["cases"]}
HALO = {c["name"]: c for c in VECTORS["halo_secp256k1"]["cases"]}


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_every_vector_case_is_covered() -> None:
    assert len(SUN) == 4 and len(HALO) == 2 and len(VECTORS["an10922_key_diversification"]["cases"]) == 1


def test_sun_example_1_picc_data_session_keys_and_mac() -> None:
    case = SUN["AN12196 SUN example 1 (PICC data and MAC only)"]
    picc = sun.decrypt_picc(h(case["k_meta_read"]), h(case["picc_enc_data"]))
    assert picc.uid == h(case["uid"]) and picc.counter == case["read_counter"]
    # The URL's own parameters carry the same values.
    assert f"e={case['picc_enc_data']}" in case["url"] and f"c={case['sdm_mac']}" in case["url"]
    file_key, uid, ctr = h(case["k_file_read"]), picc.uid, picc.counter
    assert sun.session_mac_key(file_key, uid, ctr) == h(case["k_ses_sdm_file_read_mac"])
    assert sun.session_enc_key(file_key, uid, ctr) == h(case["k_ses_sdm_file_read_enc"])
    assert sun.cmac(h(case["k_ses_sdm_file_read_mac"]), h(case["mac_input_hex"])) == h(case["full_cmac"])
    assert sun.sdm_mac(file_key, uid, ctr, sun.mac_input(None)) == h(case["sdm_mac"])
    assert sun.truncate(h(case["full_cmac"])) == h(case["sdm_mac"])


def test_sun_example_1_decrypted_picc_data_is_the_published_plaintext() -> None:
    case = SUN["AN12196 SUN example 1 (PICC data and MAC only)"]
    plain = h(case["picc_data"])
    assert plain[0] == 0xC7 and plain[1:8] == h(case["uid"])
    assert int.from_bytes(plain[8:11], "little") == case["read_counter"]


def test_sun_example_2_encrypted_file_data() -> None:
    case = SUN["AN12196 SUN example 2 (with encrypted file data)"]
    picc = sun.decrypt_picc(h(case["k_meta_read"]), h(case["picc_enc_data"]))
    assert picc.uid == h(case["uid"]) and picc.counter == case["read_counter"]
    file_key = h(case["k_file_read"])
    assert sun.session_mac_key(file_key, picc.uid, picc.counter) == h(case["k_ses_sdm_file_read_mac"])
    message = sun.mac_input(case["enc_file_data"])
    assert message == case["mac_input_utf8"].encode()
    assert sun.cmac(h(case["k_ses_sdm_file_read_mac"]), message) == h(case["full_cmac"])
    assert sun.sdm_mac(file_key, picc.uid, picc.counter, message) == h(case["sdm_mac"])
    plain = sun.decrypt_file_data(file_key, picc.uid, picc.counter, h(case["enc_file_data"]))
    assert plain.decode() == case["file_plaintext_utf8"]


def test_sun_session_keys() -> None:
    case = SUN["AN12196 session keys"]
    ctr = int.from_bytes(h(case["read_counter_lsb_first_hex"]), "little")
    assert sun.counter_bytes(ctr) == h(case["read_counter_lsb_first_hex"])
    assert sun.session_enc_key(h(case["k_file_read"]), h(case["uid"]), ctr) == h(case["k_ses_sdm_file_read_enc"])
    assert sun.session_mac_key(h(case["k_file_read"]), h(case["uid"]), ctr) == h(case["k_ses_sdm_file_read_mac"])


def test_sun_plaintext_mirroring() -> None:
    case = SUN["Plaintext mirroring (UID and counter in clear, MAC only)"]
    ctr = int(case["read_counter_hex_big_endian_in_url"], 16)
    assert sun.sdm_mac(h(case["k_file_read"]), h(case["uid"]), ctr, b"") == h(case["sdm_mac"])
    assert sun.sdm_mac(h(case["k_file_read"]), h(case["uid"]), ctr + 1, b"") != h(case["sdm_mac"])


def test_sun_refuses_picc_data_under_another_key() -> None:
    case = SUN["AN12196 SUN example 1 (PICC data and MAC only)"]
    with pytest.raises(sun.SunError):
        sun.decrypt_picc(bytes(15) + b"\x01", h(case["picc_enc_data"]))


def test_sun_refuses_picc_data_without_the_counter_mirrored() -> None:
    key, uid = bytes(16), h("04DE5F1EACC040")
    enc = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
    picc = enc.update(bytes([0x87]) + uid + bytes(8)) + enc.finalize()  # UID mirrored, counter not
    with pytest.raises(sun.CounterNotMirrored):
        sun.decrypt_picc(key, picc)


def test_an10922_diversification() -> None:
    case = VECTORS["an10922_key_diversification"]["cases"][0]
    data = h(case["uid"]) + h(case["aid"]) + h(case["system_identifier_hex"])
    assert b"\x01" + data == h(case["diversification_input"])
    assert diversify.diversify(h(case["master_key"]), data) == h(case["diversified_key"])


def test_an10922_pads_short_inputs_to_two_blocks() -> None:
    """Below 16 bytes AN10922 still MACs two blocks (K2), unlike plain CMAC of the short message."""
    master = h("00112233445566778899AABBCCDDEEFF")
    assert diversify.diversify(master, b"\x04" * 7) != sun.cmac(master, b"\x01" + b"\x04" * 7)
    # From 16 to 31 bytes of input both agree (CMAC pads to the same two blocks).
    assert diversify.diversify(master, b"\x04" * 20) == sun.cmac(master, b"\x01" + b"\x04" * 20)


def test_twinmark_tag_keys_differ_per_uid_and_role() -> None:
    master = bytes(range(16))
    a, b = diversify.file_read_key(master, h("04AABBCCDDEE80")), diversify.file_read_key(master, h("04AABBCCDDEE81"))
    assert a != b and diversify.meta_read_key(master) not in (a, b)


def test_halo_rnd_tap() -> None:
    case = HALO["rnd / rndsig tap"]
    rnd = h(case["rnd"])
    assert halo.rnd_counter(rnd) == case["counter"]
    assert halo.rnd_digest(rnd) == h(case["digest"])
    expected = halo.address(halo.public_key(h(case["pk2"])))
    assert expected in halo.signers(halo.rnd_digest(rnd), h(case["rndsig"]))  # padded DER
    tampered = bytearray(rnd)
    tampered[3] ^= 1  # another counter
    assert expected not in halo.signers(halo.rnd_digest(bytes(tampered)), h(case["rndsig"]))


def test_halo_sign_challenge() -> None:
    case = HALO["sign_challenge"]
    expected = halo.address(halo.public_key(h(case["pk"])))
    digest = halo.challenge_digest(h(case["challenge"]))
    assert expected in halo.signers(digest, h(case["signature"]))
    other = halo.challenge_digest(bytes(32))
    assert expected not in halo.signers(other, h(case["signature"]))


def test_halo_rnd_tap_from_the_arx_verification_example() -> None:
    """A second chip's tap, from Arx's public "HaLo c5+ rndsig Verification Example" (values as they
    appear in the URL, upper-case hex, DER signature padded with one byte)."""
    pk2 = (
        "0481AD57A1D12B58D46DACE9746250725889EC7677CF865F5B02C9A0768DECB64F"
        "EE6F3CD094C86F7841A55C5286B256DF70986864CA788CF2AD91C5DBACC4BC72"
    )
    rnd = h("000000020A56B892CDC5A52E2964ACC88F79BFE6234BC864BE2ED2481E937398")
    rndsig = h(
        "3045022100B49164BEC8377DDE39BFDA54A8258578494CC562D75A4056E059A636760D68BD"
        "02202539D8A55DA3C652222387C208DC7BF72E07DA25042986F5B2A8ED2C1598327004"
    )
    assert halo.rnd_counter(rnd) == 2
    assert halo.address(halo.public_key(h(pk2))) in halo.signers(halo.rnd_digest(rnd), rndsig)
