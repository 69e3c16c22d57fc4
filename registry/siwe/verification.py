"""The relying party's checks of a parsed SIWE message (EIP-4361, "Verifying a signed message"):
domain and URI are this service's (a message signed for a phishing site is refused), chain id is the
service's chain, and the message is within its time window. Nonce and signature are checked by the
service, which holds the nonces and reaches the chain."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from registry.errors import Unauthenticated
from registry.siwe.message import SiweMessage


class SiweRefused(Unauthenticated):
    """A well-formed message this service does not accept; subclasses name the failed check."""

    code, title = "siwe-refused", "Sign-in refused"


class WrongDomain(SiweRefused):
    code, title = "siwe-wrong-domain", "The message is for another domain"


class WrongUri(SiweRefused):
    code, title = "siwe-wrong-uri", "The message is for another URI"


class WrongChain(SiweRefused):
    code, title = "siwe-wrong-chain", "The message is for another chain"


class Expired(SiweRefused):
    code, title = "siwe-expired", "The message has expired"


class NotYetValid(SiweRefused):
    code, title = "siwe-not-yet-valid", "The message is not valid yet"


class IssuedInFuture(SiweRefused):
    code, title = "siwe-issued-in-future", "The message claims to be issued in the future"


class BadNonce(SiweRefused):
    code, title = "siwe-nonce", "The nonce was not issued here, was used, or has expired"


class BadSignature(SiweRefused):
    code, title = "siwe-signature", "The signature is not the address's"

    nonce_hash: str | None = None  # the live nonce the refused signature was tried with (to count against it)


@dataclass(frozen=True)
class Expectation:
    domain: str  # RFC 3986 authority the message must name (host[:port])
    scheme: str  # the service's scheme: the message's optional scheme and its URI's must be it
    chain_id: int
    # A message issued later than now + skew is refused (clocks differ a little); None: not checked,
    # as the reference implementation does (the official vectors judge old messages "at" past times).
    issued_at_skew: timedelta | None = timedelta(seconds=60)

    # The origin the message's URI must be under; None: this domain's ({scheme}://{domain}). A relying
    # party whose sign-in page is on another host than the API it names says so here.
    uri_origin: str | None = None

    @property
    def origin(self) -> str:
        return (self.uri_origin or f"{self.scheme}://{self.domain}").lower()


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}".lower()


def check(message: SiweMessage, expected: Expectation, now: datetime) -> None:
    """Raises the SiweRefused subclass of the first failed check."""
    if message.domain.lower() != expected.domain.lower():
        raise WrongDomain(f"the message is for {message.domain!r}, this service is {expected.domain!r}")
    if message.scheme is not None and message.scheme.lower() != expected.scheme.lower():
        raise WrongDomain(f"the message is for scheme {message.scheme!r}, this service uses {expected.scheme!r}")
    if _origin(message.uri) != expected.origin:
        raise WrongUri(f"the message's URI {message.uri!r} is not under {expected.origin}")
    if message.chain_id != expected.chain_id:
        raise WrongChain(f"the message is for chain {message.chain_id}, this service is on chain {expected.chain_id}")
    expiration = message.expiration
    if expiration is not None and now >= expiration:
        raise Expired(f"the message expired at {message.expiration_time}")
    not_before = message.not_before_time
    if not_before is not None and now < not_before:
        raise NotYetValid(f"the message is valid from {message.not_before}")
    if expected.issued_at_skew is not None and message.issued_at_time > now + expected.issued_at_skew:
        raise IssuedInFuture(f"the message says it was issued at {message.issued_at}, later than now")
