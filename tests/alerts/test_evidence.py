"""NTAG 424 SUN evidence re-checked with the brand's master key: a genuine tap passes, a recorded
forgery still fails its MAC (so it passes as recorded), and a tampered or mis-keyed one fails."""

from __future__ import annotations

import json
import os
from typing import Any

from registry.alerts.evidence import rule_check, sun_check
from registry.nfc import diversify
from tests.nfc.simulator import Ntag424

MASTER = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
UID = bytes.fromhex("04DE5F1EACC040")


def tag() -> Ntag424:
    return Ntag424(uid=UID, meta_key=diversify.meta_read_key(MASTER), file_key=diversify.file_read_key(MASTER, UID))


def scan(params: dict[str, str], counter: int, valid: bool = True) -> dict[str, Any]:
    return {
        "id": 1,
        "tag_kind": "ntag424",
        "tag_id": UID.hex().upper(),
        "counter": counter,
        "valid": valid,
        "evidence": json.dumps(params),
    }


def test_a_genuine_sun_tap_rechecks_with_the_key_only() -> None:
    t = tag()
    t.file_data = os.urandom(16)
    genuine = scan(t.tap(), 1)
    assert sun_check(genuine, MASTER).outcome == "pass"
    assert sun_check(genuine, None).outcome == "skip"
    assert sun_check(genuine, bytes(16)).outcome == "fail"  # another key: not this brand's tag
    assert sun_check(scan(tag().plain_params_at(5), 5), MASTER).outcome == "pass"


def test_one_tags_file_key_rechecks_its_macs_alone() -> None:
    """A brand can hand a court one tag's key instead of its master key (no other tag exposed)."""
    file_key = diversify.file_read_key(MASTER, UID)
    params = tag().params_at(4)
    recorded = scan(params, 4) | {"evidence": json.dumps(params | {"tag_uid": UID.hex().upper()})}
    assert sun_check(recorded, None, [file_key]).outcome == "pass"
    assert sun_check(recorded | {"counter": 5}, None, [file_key]).outcome == "fail"  # another counter, another MAC
    other = diversify.file_read_key(MASTER, bytes.fromhex("04000000000001"))
    assert sun_check(recorded, None, [other]).outcome == "fail"


def test_tampered_sun_evidence_fails() -> None:
    params = tag().params_at(3)
    assert sun_check(scan(params, 4), MASTER).outcome == "fail"  # the counter claimed is not the tag's
    wrong_uid = scan(params, 3) | {"tag_id": "04AAAAAAAAAAAA"}
    assert sun_check(wrong_uid, MASTER).outcome == "fail"
    mac = params["cmac"]
    flipped = params | {"cmac": ("0" if mac[0] != "0" else "1") + mac[1:]}
    assert sun_check(scan(flipped, 3), MASTER).outcome == "fail"  # recorded valid, MAC does not match
    assert sun_check(scan(flipped, 3, valid=False), MASTER).outcome == "pass"  # recorded as a forgery: it is one


def test_counter_figures_follow_from_the_scans() -> None:
    taps = [scan(tag().params_at(7), 7), scan(tag().params_at(7), 7) | {"id": 2}]
    check = rule_check("nfc-counter", {}, taps)
    assert check is not None and check.outcome == "pass"
    rising = [taps[0], scan(tag().params_at(8), 8)]
    check = rule_check("nfc-counter", {}, rising)
    assert check is not None and check.outcome == "fail"


def test_the_scan_logs_halo_evidence_rechecks() -> None:
    """The fields the scan log records for a HaLo tap (`registry.scans.events.tap_evidence`) re-check as
    they stand; a forged tap recorded as such passes as recorded."""
    from pathlib import Path

    from registry.alerts.evidence import halo_check
    from registry.nfc import halo

    case = json.loads((Path(__file__).resolve().parents[1] / "data" / "nfc-vectors.json").read_text())[
        "halo_secp256k1"
    ]["cases"][0]
    chip = halo.address(halo.public_key(bytes.fromhex(case["pk2"])))
    evidence = {
        "kind": "halo",
        "code": "genuine-fresh",
        "counter": 1,
        "rnd": case["rnd"],
        "rndsig": case["rndsig"],
        "pk2": case["pk2"],
        "challenge": case["rnd"],
        "signature": case["rndsig"],
        "digest": case["digest"],
        "chip_address": chip,
    }
    recorded = {
        "id": 9,
        "tag_kind": "halo",
        "tag_id": chip,
        "counter": 1,
        "valid": True,
        "evidence": json.dumps(evidence),
    }
    assert halo_check(recorded).outcome == "pass"
    forged = evidence | {"code": "forged", "rndsig": case["rndsig"][:-6] + "000000", "signature": None}
    assert halo_check(recorded | {"evidence": json.dumps(forged)}).outcome == "fail"  # recorded valid: it is not
    assert halo_check(recorded | {"evidence": json.dumps(forged), "valid": False, "tag_id": None}).outcome == "pass"
    assert halo_check(recorded | {"evidence": json.dumps(evidence | {"digest": "00" * 32})}).outcome == "fail"
