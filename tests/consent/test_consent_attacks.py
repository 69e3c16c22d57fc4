"""Each attack on a consent is refused with its own problem (SQLite and PostgreSQL): a replayed consent,
a sign-in message offered as consent and a consent offered as a sign-in (by its ReCap and by its
nonce's purpose), another brand's export, a forged signature (which burns the nonce), tampered ReCaps
(fields, brand, form, length), another account's message, a changed notice, extra contact fields."""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import Engine

from registry.consent import export, refusals, service
from registry.consent.messages import ConsentRecapInvalid, NotAConsent
from registry.consent.notice import Recipient, share_notice
from registry.db.engine import session_scope
from registry.errors import InvalidInput, TwinmarkError
from registry.siwe import recap
from registry.siwe import service as siwe
from registry.siwe.message import SiweMessage, parse
from registry.siwe.verification import BadNonce
from tests.consent.conftest import CHAIN_ID, CONTACT, SERVER_KEY, SETTINGS, Owners, sign

OWNER, STRANGER = Account.create(), Account.create()


@pytest.fixture(scope="module")
def o(db: Engine) -> Owners:
    owners = Owners(db, time.time())
    owners.hold("brand-a", 1, OWNER.address)
    owners.hold("brand-b", 1, STRANGER.address)
    return owners


def refused(error: type[TwinmarkError], code: str, call: Callable[[], Any]) -> None:
    with pytest.raises(error) as caught:
        call()
    assert caught.value.code == code, caught.value


def edited(text: str, change: Callable[[dict[str, Any]], None], *, statement: bool = True) -> str:
    """The message with its ReCap changed (and, unless told, the statement the EIP derives from it)."""
    message = parse(text)
    details = recap.decode(message.resources[-1])  # type: ignore[index]
    change(details)
    prefix = message.statement.split(" I further")[0] if message.statement else None  # type: ignore[union-attr]
    new = dataclasses.replace(message, resources=(recap.encode(details),))
    if statement:
        new = dataclasses.replace(new, statement=recap.statement(details, prefix))
    return new.text


def caveat(details: dict[str, Any]) -> dict[str, Any]:
    return next(iter(next(iter(details["att"].values())).values()))[0]  # type: ignore[no-any-return]


def test_a_consent_message_cannot_be_replayed(o: Owners) -> None:
    text = o.message(OWNER, "brand-a", ["email"])
    o.grant(OWNER, text, {"email": CONTACT["email"]})
    refused(refusals.ConsentNonce, "consent-nonce", lambda: o.grant(OWNER, text, {"email": CONTACT["email"]}))


def test_a_sign_in_message_is_not_a_consent_nor_a_consent_a_sign_in(o: Owners) -> None:
    with session_scope(o.engine) as s:
        signin_nonce = siwe.issue_nonce(s, SETTINGS, None, "198.51.100.7", now=o.now).nonce
    expected = siwe.expectation(SETTINGS, CHAIN_ID)
    plain = SiweMessage(
        domain=expected.domain, address=OWNER.address, uri=expected.origin + "/play", chain_id=CHAIN_ID,
        nonce=signin_nonce, issued_at="2026-01-01T00:00:00Z", statement="Sign in to play.",
    ).text  # fmt: skip
    refused(NotAConsent, "consent-not-a-consent", lambda: o.grant(OWNER, plain, {"email": CONTACT["email"]}))
    # A consent-shaped message carrying a sign-in nonce: the nonce's purpose refuses it.
    consent = o.message(OWNER, "brand-a", ["email"])
    swapped = dataclasses.replace(parse(consent), nonce=signin_nonce).text
    refused(refusals.ConsentNonce, "consent-nonce", lambda: o.grant(OWNER, swapped, {"email": CONTACT["email"]}))

    def sign_in(text: str) -> None:
        with session_scope(o.engine) as s:
            siwe.sign_in(s, SETTINGS, None, CHAIN_ID, text, sign(OWNER, text), None, client="c", now=o.now)

    refused(siwe.NotASignIn, "siwe-not-a-sign-in", lambda: sign_in(consent))
    # A plain sign-in message carrying a consent's nonce: refused as a nonce not issued for sign-in.
    as_signin = dataclasses.replace(parse(plain), nonce=parse(consent).nonce, issued_at=parse(consent).issued_at).text
    refused(BadNonce, "siwe-nonce", lambda: sign_in(as_signin))
    o.grant(OWNER, consent, {"email": CONTACT["email"]})  # the consent itself is still good


def test_a_forged_signature_is_refused_and_burns_the_nonce(o: Owners) -> None:
    text = o.message(OWNER, "brand-a", ["phone"])
    forged = sign(STRANGER, text)
    refused(refusals.ConsentSignature, "consent-signature", lambda: o.grant(OWNER, text, {"phone": "+33 1 23"}, forged))
    refused(refusals.ConsentNonce, "consent-nonce", lambda: o.grant(OWNER, text, {"phone": "+33 1 23"}))


def test_tampered_recaps_are_refused(o: Owners) -> None:
    text = o.message(OWNER, "brand-a", ["email"])
    signature = sign(OWNER, text)
    to = Recipient("Maison A SAS", "privacy@brand-a.example", "FR")

    def more_fields(d: dict[str, Any]) -> None:
        caveat(d)["fields"] = ["email", "phone"]

    def more_fields_new_notice(d: dict[str, Any]) -> None:
        more_fields(d)
        caveat(d)["notice"] = share_notice(to, ["email", "phone"], "care").digest

    def other_brand(d: dict[str, Any]) -> None:
        d["att"] = {"twinmark:brand:brand-b": d["att"]["twinmark:brand:brand-a"]}

    wide = {"email": "x@y.example", "phone": "+33 1 23"}
    # Fields added to a signed message: the notice no longer matches, or (notice recomputed) the signature.
    refused(
        refusals.NoticeChanged,
        "consent-notice-changed",
        lambda: o.grant(OWNER, edited(text, more_fields), wide, signature),
    )
    refused(refusals.ConsentSignature, "consent-signature",
            lambda: o.grant(OWNER, edited(text, more_fields_new_notice), wide, signature))  # fmt: skip
    text = o.message(OWNER, "brand-a", ["email"])
    # The ReCap names another brand than the statement says (the EIP's check); another human statement
    # before the EIP's text; a non-canonical ReCap; ten years.
    refused(recap.InvalidRecap, "invalid-recap",
            lambda: o.grant(OWNER, edited(text, other_brand, statement=False), {"email": "x@y.example"}))  # fmt: skip
    message = parse(text)
    assert message.statement is not None
    worded = dataclasses.replace(
        message, statement="I agree to anything." + message.statement[message.statement.index(" I further") :]
    )
    refused(ConsentRecapInvalid, "consent-recap", lambda: o.grant(OWNER, worded.text, {"email": "x@y.example"}))
    loose = json.dumps(recap.decode(message.resources[-1])).encode()  # type: ignore[index]  # spaces: not canonical
    spaced = recap.PREFIX + base64.urlsafe_b64encode(loose).decode().rstrip("=")
    bad = dataclasses.replace(message, resources=(spaced,)).text
    refused(recap.InvalidRecap, "invalid-recap", lambda: o.grant(OWNER, bad, {"email": "x@y.example"}))
    long = dataclasses.replace(message, expiration_time="2099-01-01T00:00:00Z").text
    refused(ConsentRecapInvalid, "consent-recap", lambda: o.grant(OWNER, long, {"email": "x@y.example"}))


def test_another_accounts_message_and_extra_details_are_refused(o: Owners) -> None:
    text = o.message(OWNER, "brand-a", ["email"])
    refused(refusals.WrongAccount, "consent-wrong-account", lambda: o.grant(STRANGER, text, {"email": "x@y.example"}))
    refused(InvalidInput, "invalid-input", lambda: o.grant(OWNER, text, {"email": "x@y.example", "phone": "+1 5550"}))
    refused(InvalidInput, "invalid-input", lambda: o.grant(OWNER, text, {}))
    refused(refusals.NotAnOwner, "consent-not-an-owner", lambda: o.message(STRANGER, "brand-a", ["email"]))


def test_a_changed_recipient_needs_a_new_reading(o: Owners) -> None:
    text = o.message(OWNER, "brand-a", ["email"])
    with session_scope(o.engine) as s:
        service.set_profile(s, "brand-a", "Maison A Holding", "dpo@brand-a.example", "FR")
    try:
        grant = lambda: o.grant(OWNER, text, {"email": "x@y.example"})  # noqa: E731
        refused(refusals.NoticeChanged, "consent-notice-changed", grant)
    finally:
        with session_scope(o.engine) as s:
            service.set_profile(s, "brand-a", "Maison A SAS", "privacy@brand-a.example", "FR")


def test_another_brands_export_holds_none_of_it(o: Owners) -> None:
    o.share(OWNER, "brand-a", ["name"])
    with session_scope(o.engine) as s:
        assert {r.address for r in export.rows(s, SERVER_KEY, "brand-a", o.now)} == {OWNER.address}
        assert export.rows(s, SERVER_KEY, "brand-b", o.now) == []
