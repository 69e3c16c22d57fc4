"""What a request contributes to the scan log, decided from plain values (the HTTP side, api/scans.py,
reads them off the request): how a page view arrived, and a tap's evidence.

Arrival of a page view: `nfc` when the URL carries a tap (its parameters, or the signed ticket the
tap's redirect adds) or `src=nfc`; `qr` when the buyer came through the GS1 resolver (the QR code
on a label encodes the twin's Digital Link, `/01/{gtin}/21/{serial}`, which redirects to the page:
the redirect leaves a short-lived `tm_via` cookie the page view reads) or the URL carries `src=qr`
(a label printed with its own marker); `link` for anything else (a typed or shared link)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from registry.nfc import halo
from registry.nfc.taps import TapResult

TAP_PARAMS = ("picc_data", "enc", "cmac", "uid", "ctr", "rnd", "rndsig", "pk1", "pk2")
VIA_COOKIE = "tm_via"  # set by the resolver's redirect to a page, read by that page view
_MAX_VALUE = 600  # a tap parameter longer than any real one is cut (it is malformed anyway)


def arrival(query: Mapping[str, str], via_resolver: bool) -> str:
    source = query.get("src", "").lower()
    if "tap" in query or source == "nfc" or any(k in query for k in ("picc_data", "cmac", "rnd", "rndsig")):
        return "nfc"
    if source == "qr" or via_resolver:
        return "qr"
    return "link"


def tap_evidence(params: Mapping[str, str], result: TapResult) -> str:
    """What a third party needs to re-check the tap without trusting this service, as received: for
    NTAG 424 SUN the PICC data (or plaintext UID and counter), the encrypted file data and the CMAC,
    the exact text the CMAC covers, and the tag's UID (re-checking also needs that one tag's file
    key, which the brand can disclose without exposing any other tag); for HaLo the challenge (`rnd`,
    whose first 4 bytes are the counter), its digest and the signature, which anyone can recover the
    chip's address from."""
    given = {k: params[k][:_MAX_VALUE] for k in TAP_PARAMS if k in params}
    evidence: dict[str, object] = {"kind": result.kind, "code": result.code, "counter": result.counter}
    if result.kind == "ntag424":
        evidence |= {k: given[k] for k in ("picc_data", "enc", "cmac", "uid", "ctr") if k in given}
        enc = given.get("enc")
        evidence["mac_input"] = "" if enc is None else f"{enc}&cmac="  # NXP AN12196: the text the MAC covers
        if result.tag_id is not None:
            evidence["tag_uid"] = result.tag_id
    else:
        evidence |= {k: given[k] for k in ("rnd", "rndsig", "pk2") if k in given}
        evidence["challenge"] = given.get("rnd")
        evidence["signature"] = given.get("rndsig")
        try:
            evidence["digest"] = halo.rnd_digest(bytes.fromhex(given.get("rnd", ""))).hex()
        except ValueError:
            evidence["digest"] = None
        if result.tag_id is not None:
            evidence["chip_address"] = result.tag_id
    return json.dumps(evidence, separators=(",", ":"), sort_keys=True)
