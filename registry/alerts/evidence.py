"""Re-checking an exported alert's evidence without trusting the service that made it.

A tap's evidence is what the tag put in its URL, as the scan log recorded it:
- HaLo: `rnd` (4-byte counter || 28 random bytes) and `rndsig` (or `signature`), optionally `digest`
  and `pk2`. Anyone re-checks it: the signature must recover to the chip address (`tag_id`).
- NTAG 424 SUN: `picc_data` and `cmac` (optionally `enc`), or plain `uid`, `ctr` and `cmac`. Whoever
  holds the brand's AES-128 master key re-checks it (Twinmark's AN10922 diversification), or, for the
  MAC alone, that one tag's SDMFileRead key (which exposes no other tag).
A check passes when the re-computed verdict is the one recorded (`valid`): a tap recorded as forged
must still fail its MAC, a genuine one must still pass, with the same tag and counter.

The chain facts (the twin at a block) are re-read from any RPC endpoint of that chain."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from registry.alerts.rules import haversine_km
from registry.chain.layout import status_name
from registry.chain.node_reads import BlockRef, NodeReads
from registry.nfc import diversify, halo, sun

Outcome = Literal["pass", "fail", "skip"]


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail: str


def _hex(doc: Mapping[str, Any], *names: str) -> bytes | None:
    for name in names:
        value = doc.get(name)
        if isinstance(value, str):
            return bytes.fromhex(value.removeprefix("0x"))
    return None


def _evidence(scan: Mapping[str, Any]) -> dict[str, Any]:
    raw = scan.get("evidence")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return {}
    return raw if isinstance(raw, dict) else {}


def halo_check(scan: Mapping[str, Any]) -> Check:
    name = f"scan {scan.get('id')}: HaLo signature"
    doc = _evidence(scan)
    try:
        rnd = _hex(doc, "rnd")
        sig = _hex(doc, "rndsig", "signature")
        given = _hex(doc, "digest")
        if sig is None or (rnd is None and given is None):
            return Check(name, "fail", "the evidence holds no signature and no signed message")
        digest = halo.rnd_digest(rnd) if rnd is not None else given
        assert digest is not None
        if given is not None and rnd is not None and given != digest:
            return Check(name, "fail", "the digest is not SHA-256 of the attest prefix and rnd")
        signers = halo.signers(digest, sig)
    except (ValueError, halo.HaloError) as exc:
        return _against(name, scan, False, f"the signature does not parse ({exc})")
    chip = str(scan.get("tag_id") or "")
    signed = chip.lower() in {s.lower() for s in signers}
    if signed and rnd is not None and scan.get("counter") is not None and halo.rnd_counter(rnd) != scan["counter"]:
        return Check(name, "fail", f"rnd carries counter {halo.rnd_counter(rnd)}, the scan says {scan['counter']}")
    detail = f"chip {chip} signed it" if signed else f"not signed by chip {chip or '(none named)'}"
    return _against(name, scan, signed, detail)


def sun_check(scan: Mapping[str, Any], master: bytes | None, tag_keys: Sequence[bytes] = ()) -> Check:
    """With the brand's master key: the PICC data decrypted (UID and counter) and the MAC re-computed.
    With one tag's SDMFileRead key only (a brand can disclose it without exposing its other tags): the
    MAC re-computed over the UID and counter the scan names."""
    name = f"scan {scan.get('id')}: NTAG 424 SUN MAC"
    if master is None and not tag_keys:
        return Check(name, "skip", "needs the brand's master key (--nfc-key) or this tag's file key (--tag-key)")
    doc = _evidence(scan)
    try:
        mac = _hex(doc, "cmac")
        if mac is None:
            return Check(name, "fail", "the evidence holds no MAC")
        enc = doc.get("enc")
        if master is None:
            return _by_tag_key(name, scan, doc, mac, enc, tag_keys)
        picc = _hex(doc, "picc_data")
        if picc is not None:
            try:
                data = sun.decrypt_picc(diversify.meta_read_key(master), picc)
            except sun.SunError:
                return _against(name, scan, False, "the PICC data does not decrypt under this key")
            uid, counter = data.uid, data.counter
        else:
            uid_hex, ctr = _hex(doc, "uid"), _hex(doc, "ctr")
            if uid_hex is None or ctr is None:
                return Check(name, "fail", "the evidence holds neither PICC data nor a plain UID and counter")
            uid, counter = uid_hex, int.from_bytes(ctr, "big")
        expected = sun.sdm_mac(diversify.file_read_key(master, uid), uid, counter, sun.mac_input(enc))
    except ValueError as exc:
        return _against(name, scan, False, f"the evidence does not parse ({exc})")
    genuine = hmac.compare_digest(expected, mac)
    if genuine and str(scan.get("tag_id") or "").upper() != uid.hex().upper():
        return Check(name, "fail", f"the MAC is tag {uid.hex().upper()}'s, the scan names {scan.get('tag_id')}")
    if genuine and scan.get("counter") is not None and scan["counter"] != counter:
        return Check(name, "fail", f"the tag's counter is {counter}, the scan says {scan['counter']}")
    detail = f"tag {uid.hex().upper()} made it at counter {counter}" if genuine else "the MAC does not match"
    return _against(name, scan, genuine, detail)


def _by_tag_key(
    name: str, scan: Mapping[str, Any], doc: Mapping[str, Any], mac: bytes, enc: Any, keys: Sequence[bytes]
) -> Check:
    uid_text = doc.get("uid") or doc.get("tag_uid") or scan.get("tag_id")
    ctr = _hex(doc, "ctr")
    counter = int.from_bytes(ctr, "big") if ctr is not None else scan.get("counter")
    if not isinstance(uid_text, str) or not isinstance(counter, int):
        return Check(name, "skip", "a tag key alone needs the tag's UID and counter in the scan")
    uid = bytes.fromhex(uid_text)
    genuine = any(hmac.compare_digest(sun.sdm_mac(key, uid, counter, sun.mac_input(enc)), mac) for key in keys)
    detail = f"tag {uid_text.upper()} at counter {counter}" + (" made it" if genuine else ": the MAC does not match")
    return _against(name, scan, genuine, detail)


def _against(name: str, scan: Mapping[str, Any], genuine: bool, detail: str) -> Check:
    """Passes when the re-computed verdict is the recorded one."""
    recorded = scan.get("valid")
    if recorded is None or bool(recorded) == genuine:
        return Check(name, "pass", f"{'genuine' if genuine else 'not genuine'}, as recorded: {detail}")
    return Check(name, "fail", f"recorded as {'valid' if recorded else 'invalid'}, re-checked: {detail}")


def tap_checks(scans: Sequence[Mapping[str, Any]], master: bytes | None, tag_keys: Sequence[bytes] = ()) -> list[Check]:
    out = []
    for scan in scans:
        if scan.get("tag_kind") == "halo":
            out.append(halo_check(scan))
        elif scan.get("tag_kind") == "ntag424":
            out.append(sun_check(scan, master, tag_keys))
    return out


def rule_check(rule: str, facts: Mapping[str, Any], scans: Sequence[Mapping[str, Any]]) -> Check | None:
    """For the rules whose figures follow from the scans alone, the figures re-computed."""
    name = f"rule {rule}: figures"
    if rule == "nfc-counter":
        taps = [s for s in scans if s.get("valid") and s.get("counter") is not None and s.get("tag_id")]
        for i, later in enumerate(taps):
            for earlier in taps[:i]:
                if earlier["tag_id"] == later["tag_id"] and later["counter"] <= earlier["counter"]:
                    detail = f"tag {later['tag_id']} gave counter {later['counter']} after {earlier['counter']}"
                    return Check(name, "pass", detail)
        return Check(name, "fail", "no valid tap repeats or lowers an earlier counter of its tag")
    if rule == "impossible-travel":
        located = [s for s in scans if s.get("latitude") is not None and s.get("longitude") is not None]
        if len(located) != 2:
            return Check(name, "fail", "the alert does not carry its two located scans")
        a, b = located
        km = haversine_km(float(a["latitude"]), float(a["longitude"]), float(b["latitude"]), float(b["longitude"]))
        if abs(km - float(facts.get("km", -1))) > max(1.0, km * 0.01):
            return Check(name, "fail", f"the scans are {km:.0f} km apart, the alert says {facts.get('km')}")
        return Check(name, "pass", f"the scans are {km:.0f} km apart")
    return None


def chain_checks(facts: Mapping[str, Any] | None, reader: NodeReads | None, chain_id: int | None) -> list[Check]:
    """The twin's state at the alert's block, read again: that block's hash, then every fact recorded."""
    name = "chain facts"
    if not facts:
        return [Check(name, "skip", "the alert carries no chain facts")]
    if reader is None:
        return [Check(name, "skip", "needs an RPC endpoint of the chain (--chain-rpc)")]
    if chain_id is not None and chain_id != facts.get("chain_id"):
        return [Check(name, "fail", f"the endpoint serves chain {chain_id}, the alert chain {facts.get('chain_id')}")]
    number, recorded_hash = int(facts["block_number"]), str(facts["block_hash"])
    if reader.block_hash_at(number) != recorded_hash:
        return [Check(name, "fail", f"block {number} of this chain is not {recorded_hash}")]
    reports = reader.reports_at([(str(facts["collection"]), int(facts["token_id"]))], BlockRef(number, recorded_hash))
    if reports is None:
        return [Check(name, "fail", f"block {number} changed while it was read")]
    report = next(iter(reports.values()))
    twin = report.twin
    seen = {
        "exists": twin is not None,
        "burned": report.burned,
        "owner": twin.owner if twin else None,
        "status": status_name(twin.status) if twin else None,
        "claimed": twin.claimed if twin else None,
        "minted_at": twin.minted_at if twin else None,
        "compromised_at_mint": report.compromised_at(twin.minted_at) if twin else None,
    }
    wrong = [f"{k}: recorded {facts.get(k)!r}, chain {v!r}" for k, v in seen.items() if facts.get(k) != v]
    if wrong:
        return [Check(name, "fail", "; ".join(wrong))]
    return [Check(name, "pass", f"at block {number}: owner {seen['owner']}, status {seen['status']}")]


def recheck(
    doc: Mapping[str, Any],
    *,
    master: bytes | None,
    reader: NodeReads | None,
    chain_id: int | None,
    tag_keys: Sequence[bytes] = (),
) -> list[Check]:
    alert = doc.get("alert") or {}
    scans = [s for s in doc.get("scans") or [] if isinstance(s, dict)]
    checks = tap_checks(scans, master, tag_keys)
    consistent = rule_check(str(alert.get("rule")), alert.get("facts") or {}, scans)
    if consistent is not None:
        checks.append(consistent)
    return checks + chain_checks(alert.get("chain"), reader, chain_id)
