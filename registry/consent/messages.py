"""The consent messages: SIWE (EIP-4361) with one EIP-5573 ReCap naming the brand, built here for
the owner's page to sign, and read back strictly (one resource, one ability, one caveat with exactly
the keys this module writes, the statement exactly the one it would write).

    {"att": {"twinmark:brand:<id>": {"consent/share": [{"fields": [...], "mainland_china": false,
     "notice": "sha256:<hex>", "purpose": "care"}]}}, "prf": []}

A cross-border consent is `consent/cross-border`, whose caveat carries PIPL art. 39's items and the
id of the share consent it extends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from registry.consent.notice import FIELDS, PROCESSING, PURPOSES, RIGHTS, Notice, Recipient
from registry.errors import InvalidInput
from registry.siwe import recap
from registry.siwe.message import STATEMENT_RE, SiweMessage
from registry.siwe.verification import Expectation

RESOURCE = "twinmark:brand:"
SHARE, CROSS_BORDER = "consent/share", "consent/cross-border"
SHARE_KEYS = {"fields", "mainland_china", "notice", "purpose"}
CROSS_BORDER_KEYS = {
    "consent",
    "contact",
    "country",
    "fields",
    "notice",
    "processing",
    "purpose",
    "recipient",
    "rights",
}
PATH = "/v1/consent"  # the URI the message names: this service's consent endpoint


class ConsentRecapInvalid(InvalidInput):
    code, title = "consent-recap", "The consent's capability is not one this service issues"


class NotAConsent(InvalidInput):
    code, title = "consent-not-a-consent", "This message grants no consent"


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def clean_fields(fields: list[str]) -> list[str]:
    """The fields in the vocabulary's order, each once; InvalidInput for an unknown or none."""
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown or not fields:
        raise InvalidInput(f"fields must be among {', '.join(FIELDS)} (at least one); not {unknown}")
    return [f for f in FIELDS if f in fields]


def check_purpose(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise InvalidInput(f"purpose must be one of {', '.join(PURPOSES)}")
    return purpose


def share_caveat(fields: list[str], purpose: str, mainland_china: bool, notice: Notice) -> dict[str, Any]:
    return {"fields": fields, "mainland_china": mainland_china, "notice": notice.digest, "purpose": purpose}


def cross_border_caveat(
    parent_id: str, recipient: Recipient, fields: list[str], purpose: str, notice: Notice
) -> dict[str, Any]:
    return {
        "consent": parent_id,
        "contact": recipient.contact,
        "country": recipient.country,
        "fields": fields,
        "notice": notice.digest,
        "processing": PROCESSING[0],
        "purpose": purpose,
        "recipient": recipient.name,
        "rights": RIGHTS[0],
    }


def _prefix(ability: str, brand_name: str) -> str:
    """The human part of the statement (ASCII; a brand name outside the grammar is left out: the
    notice, committed by hash, names it)."""
    brand = f" {brand_name}" if STATEMENT_RE.fullmatch(brand_name) and "'" not in brand_name else ""
    if ability == SHARE:
        return f"I consent to share the contact details listed in the notice I read with the brand{brand}."
    return f"I separately consent to the transfer of those details outside mainland China to the brand{brand}."


@dataclass(frozen=True)
class Built:
    message: SiweMessage
    notice: Notice


def build(
    expected: Expectation,
    *,
    address: str,
    brand_id: str,
    brand_name: str,
    ability: str,
    caveat: dict[str, Any],
    nonce: str,
    now: float,
    expires_at: float,
    notice: Notice,
) -> Built:
    details = {"att": {RESOURCE + brand_id: {ability: [caveat]}}, "prf": []}
    message = SiweMessage(
        domain=expected.domain,
        address=address,
        statement=recap.statement(details, _prefix(ability, brand_name)),
        uri=expected.origin + PATH,
        chain_id=expected.chain_id,
        nonce=nonce,
        issued_at=iso(now),
        expiration_time=iso(expires_at),
        resources=(recap.encode(details),),
    )
    return Built(message, notice)


@dataclass(frozen=True)
class Read:
    """A consent message as read back: which brand, what was granted, under which caveat."""

    brand_id: str
    ability: str
    caveat: dict[str, Any]
    details: dict[str, Any]


def read(message: SiweMessage, expected: Expectation, name_of: Callable[[str], str]) -> Read:
    """The consent a message grants, refusing anything this service would not have built; `name_of`
    gives the brand's name from its id (NotFound for no such brand)."""
    details = recap.of(message)
    if details is None:
        raise NotAConsent("a consent is a message with a Twinmark ReCap resource; a sign-in message is not one")
    if message.uri != expected.origin + PATH:
        raise ConsentRecapInvalid(f"a consent names {expected.origin + PATH} as its URI, not {message.uri!r}")
    if len(message.resources or ()) != 1 or details.get("prf") != [] or set(details) != {"att", "prf"}:
        raise ConsentRecapInvalid("a consent carries exactly one ReCap and nothing else")
    att = details["att"]
    (resource, abilities), *more = att.items()
    if more or not resource.startswith(RESOURCE) or len(abilities) != 1:
        raise ConsentRecapInvalid("a consent names one brand and one ability")
    (ability, caveats), *_ = abilities.items()
    keys = {SHARE: SHARE_KEYS, CROSS_BORDER: CROSS_BORDER_KEYS}.get(ability)
    if keys is None or len(caveats) != 1 or set(caveats[0]) != keys:
        raise ConsentRecapInvalid(f"{ability!r} with these caveats is not a consent this service issues")
    caveat = caveats[0]
    fields = caveat["fields"]
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields) or clean_fields(fields) != fields:
        raise ConsentRecapInvalid("the consented fields are not a list in the notice's order")
    if not isinstance(caveat["purpose"], str) or caveat["purpose"] not in PURPOSES:
        raise ConsentRecapInvalid("the purpose is not one this service knows")
    if ability == SHARE and not isinstance(caveat["mainland_china"], bool):
        raise ConsentRecapInvalid("mainland_china must be true or false")
    brand_id = resource[len(RESOURCE) :]
    if message.statement != recap.statement(details, _prefix(ability, name_of(brand_id))):
        raise ConsentRecapInvalid("the statement is not the one this consent's capability translates to")
    if message.expiration_time is None or message.not_before is not None or message.request_id is not None:
        raise ConsentRecapInvalid("a consent has an Expiration Time and no Not Before or Request ID")
    return Read(brand_id, ability, caveat, details)


def caveat_json(caveat: dict[str, Any]) -> str:
    return json.dumps(caveat, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
