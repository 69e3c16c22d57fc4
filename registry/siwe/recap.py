"""EIP-5573 ReCaps: capabilities a SIWE message grants, as its last resource (`urn:recap:` and the
unpadded base64url of a JSON details object) and as the statement the EIP derives from them.

The EIP quotes names with `'` (its example and translation algorithm); some libraries emit `"`,
which our statement grammar (RFC 3986 characters only) refuses, so this module writes `'`. A message
is accepted only in canonical form: the JSON re-encoded with sorted keys and no spaces gives the same
URI, so one capability has exactly one text to sign.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from registry.siwe.message import InvalidSiweMessage, SiweMessage

PREFIX = "urn:recap:"
PREAMBLE = "I further authorize the stated URI to perform the following actions on my behalf:"
ABILITY_RE = re.compile(r"[a-zA-Z0-9.*_+-]+/[a-zA-Z0-9.*_+-]+")
TWINMARK_SCHEME = "twinmark:"  # attenuations on this service's own resources (consent to a brand)


class InvalidRecap(InvalidSiweMessage):
    code, title = "invalid-recap", "Not a valid EIP-5573 capability"


def encode(details: dict[str, Any]) -> str:
    """The ReCap URI of `details` (canonical JSON: sorted keys, no whitespace, UTF-8)."""
    raw = json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(uri: str) -> dict[str, Any]:
    """The details object of a canonical ReCap URI; InvalidRecap otherwise. A dict on purpose: EIP-5573
    keys its attenuations by resource URI and ability, with caveats of any shape."""
    if not uri.startswith(PREFIX):
        raise InvalidRecap("the last resource is not a urn:recap: URI")
    body = uri[len(PREFIX) :]
    try:
        details = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidRecap("the ReCap is not base64url-encoded JSON") from None
    if not isinstance(details, dict) or encode(details) != uri:
        raise InvalidRecap("the ReCap is not in canonical form (sorted keys, no whitespace, no padding)")
    att = details.get("att")
    if not isinstance(att, dict) or not att:
        raise InvalidRecap("the ReCap has no attenuations")
    for resource, abilities in att.items():
        if ":" not in resource or not isinstance(abilities, dict) or not abilities:
            raise InvalidRecap(f"attenuation {resource!r} is not a URI with abilities")
        for ability, caveats in abilities.items():
            if ABILITY_RE.fullmatch(ability) is None or not isinstance(caveats, list):
                raise InvalidRecap(f"{ability!r} is not an ability string with a list of caveats")
            if not all(isinstance(c, dict) for c in caveats):
                raise InvalidRecap(f"the caveats of {ability!r} must be objects")
    return details


def statement(details: dict[str, Any], prefix: str | None = None) -> str:
    """The EIP's ReCap Translation Algorithm: the optional statement, then one numbered entry per
    resource and ability namespace, names in `'` quotes."""
    out = (prefix + " " if prefix else "") + PREAMBLE
    n = 1
    for resource in sorted(details["att"]):
        groups: dict[str, list[str]] = {}
        for ability in sorted(details["att"][resource]):
            namespace, name = ability.split("/", 1)
            groups.setdefault(namespace, []).append(name)
        for namespace, names in groups.items():
            listed = ", ".join(f"'{name}'" for name in names)
            out += f" ({n}) '{namespace}': {listed} for '{resource}'."
            n += 1
    return out


def of(message: SiweMessage) -> dict[str, Any] | None:
    """The message's ReCap (its last resource), checked against its statement; None without one.
    A dict on purpose, as `decode`'s."""
    if not message.resources or not message.resources[-1].startswith(PREFIX):
        return None
    details = decode(message.resources[-1])
    if not (message.statement or "").endswith(statement(details)):
        raise InvalidRecap("the statement does not end with the text the ReCap translates to")
    return details


def names_twinmark(message: SiweMessage) -> bool:
    """Whether any resource of the message is a ReCap granting something on a `twinmark:` resource
    (a consent): such a message is never a sign-in, whatever its nonce."""
    for resource in message.resources or ():
        if resource.startswith(PREFIX):
            body = resource[len(PREFIX) :]
            try:  # read loosely: a non-canonical consent must not pass as a sign-in either
                details = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            except (binascii.Error, UnicodeDecodeError, ValueError):
                continue
            att = details.get("att") if isinstance(details, dict) else None
            if isinstance(att, dict) and any(str(r).startswith(TWINMARK_SCHEME) for r in att):
                return True
    return False
