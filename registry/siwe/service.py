"""Sign-In with Ethereum for players: nonces, verification, and the sessions other routes accept.

A nonce is issued to one caller (a partner's key, or nobody) and consumed by the first sign-in that
passes every check; a session token is random, returned once, stored as its SHA-256, scoped to the
address and the partner, and ends at `siwe_session_seconds` or the message's Expiration Time.
"""

from __future__ import annotations

import hashlib
import secrets
import string
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, col, select

from registry.auth.models import Partner
from registry.chain.node_reads import NodeReads
from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import InvalidInput, Unauthenticated
from registry.settings import Settings
from registry.siwe.erc6492_code import VALIDATOR_CREATION_CODE
from registry.siwe.message import parse
from registry.siwe.models import PURPOSE_SIGN_IN, SiweNonce, SiweSession
from registry.siwe.recap import names_twinmark
from registry.siwe.signatures import signed_by
from registry.siwe.verification import BadNonce, BadSignature, Expectation, SiweRefused, check

TOKEN_PREFIX = "tms_"  # noqa: S105 - the public prefix of session tokens
NONCE_ALPHABET = string.ascii_letters + string.digits
NONCE_LENGTH = 24  # ~143 bits; the EIP asks for at least 8 alphanumerics
MINUTE = timedelta(minutes=1)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class NotASignIn(SiweRefused):
    code, title = "siwe-not-a-sign-in", "This message is a consent, not a sign-in"


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class NodeCalls:
    """`ChainCalls` over the service's chain: code at the head, and eth_call whose failure is an answer.

    The calls run code the signer chose (a wallet, an EIP-6492 factory and its calldata), so each
    carries a gas cap: without one, the node's own cap (30M on Anvil, 50M on geth) is what an
    attacker's loop would burn per request."""

    def __init__(self, chain: NodeReads, gas: int = 1_000_000) -> None:
        self.chain = chain
        self.gas = gas

    def code(self, address: str) -> bytes:
        return self.chain.code_at(address)

    def call(self, to: str | None, data: bytes) -> bytes | None:
        # None: running the signer's code failed (revert, out of gas...), the wallet not vouching: a
        # refused signature. An unreachable node raises ChainUnavailable and stays a 503.
        return self.chain.capped_call(to, data, gas=self.gas)


def expectation(settings: Settings, chain_id: int) -> Expectation:
    base = urlsplit(settings.base_url)
    return Expectation(domain=settings.siwe_domain or base.netloc, scheme=base.scheme, chain_id=chain_id)


@dataclass(frozen=True)
class IssuedNonce:
    nonce: str
    expires_at: datetime


# Every nonce is a row until it expires: callers are limited so no one can fill the table. A partner's
# game server asks for all its players, so its key gets more than one anonymous client address.
ANONYMOUS_NONCES = Limit("siwe-nonces:client", 120, timedelta(minutes=1), "sign-in nonces from this client")
PARTNER_NONCES = Limit("siwe-nonces:partner", 6_000, timedelta(minutes=1), "sign-in nonces for this partner")


def issue_nonce(
    s: Session, settings: Settings, partner_id: str | None, client: str, now: float | None = None
) -> IssuedNonce:
    now = time.time() if now is None else now
    anonymous = replace(ANONYMOUS_NONCES, ceiling=settings.siwe_nonces_ceiling_per_minute)
    ratelimit.hit(s, [(PARTNER_NONCES, partner_id) if partner_id else (anonymous, client)])
    # Expired rows go as new ones come: the tables stay the size of what is live.
    s.execute(delete(SiweNonce).where(col(SiweNonce.expires_at) < int(now)))
    s.execute(delete(SiweSession).where(col(SiweSession.expires_at) < int(now) - 86_400))
    nonce = "".join(secrets.choice(NONCE_ALPHABET) for _ in range(NONCE_LENGTH))
    expires = now + settings.siwe_nonce_seconds
    s.add(SiweNonce(nonce_hash=_sha256(nonce), partner_id=partner_id, expires_at=int(expires)))
    return IssuedNonce(nonce=nonce, expires_at=_utc(int(expires)))


@dataclass(frozen=True)
class Player:
    """A signed-in player, as a session token shows it."""

    address: str
    chain_id: int
    partner: Partner | None
    expires_at: datetime
    signature_kind: str


@dataclass(frozen=True)
class SignedIn:
    token: str  # in clear only in this object, for the one answer that carries it
    player: Player


def _same_caller(partner_id: str | None) -> ColumnElement[bool]:
    return col(SiweNonce.partner_id).is_(None) if partner_id is None else col(SiweNonce.partner_id) == partner_id


# A partner's game server relays every player's sign-in from one address: its key is counted apart,
# with room for a crowd's typos, as with nonces.
PARTNER_FAILURES_FACTOR = 50


def _failures(settings: Settings, partner: Partner | None, client: str) -> tuple[tuple[Limit, str], Limit]:
    """(Refused sign-ins per caller per minute, and its key; refused signatures per nonce over its life)."""
    per_minute = settings.siwe_failures_per_minute
    if partner is not None:
        caller = Limit("siwe-failures:partner", per_minute * PARTNER_FAILURES_FACTOR, MINUTE, "refused sign-ins")
        counted = (caller, partner.id)
    else:
        ceiling = settings.siwe_failures_ceiling_per_minute
        counted = (
            Limit("siwe-failures:client", per_minute, MINUTE, "refused sign-ins from this client", ceiling),
            client,
        )
    window = timedelta(seconds=settings.siwe_nonce_seconds)
    nonce = Limit("siwe-failures:nonce", settings.siwe_failures_per_nonce, window, "refused signatures for this nonce")
    return counted, nonce


def sign_in(
    s: Session,
    settings: Settings,
    chain: NodeCalls | None,
    chain_id: int,
    text: str,
    signature: str,
    partner: Partner | None,
    *,
    client: str,
    now: float | None = None,
    validator_6492: bytes | None = VALIDATOR_CREATION_CODE,
) -> SignedIn:
    """Checks the message per EIP-4361 (grammar, domain, URI, chain, times, nonce, signature) and opens
    a session. Every refusal is a problem naming the failed check; the nonce is spent on success, and
    burnt after `siwe_failures_per_nonce` refused signatures (a refused signature may have cost
    contract-wallet calls, so a nonce cannot be a free pass to make them without end). A client with
    `siwe_failures_per_minute` refusals in its minute is answered 429 before anything is checked; the
    ceiling of refusals from all clients together stops only clients that were refused before (and
    the refusal that reaches it), never a first sign-in."""
    per_caller, per_nonce = _failures(settings, partner, client)
    ratelimit.check_failures(s, *per_caller)
    try:
        return _sign_in(s, settings, chain, chain_id, text, signature, partner, now, validator_6492)
    except SiweRefused as refused:
        ratelimit.hit(s, [per_caller])
        if isinstance(refused, BadSignature) and refused.nonce_hash is not None:
            left = ratelimit.hit(s, [(per_nonce, refused.nonce_hash)])[0]
            if left <= 0:
                s.execute(
                    update(SiweNonce)
                    .where(col(SiweNonce.nonce_hash) == refused.nonce_hash)
                    .values(used_at=int(time.time()))
                )
        s.commit()  # the failure counts even though this request fails
        raise


def _sign_in(
    s: Session,
    settings: Settings,
    chain: NodeCalls | None,
    chain_id: int,
    text: str,
    signature: str,
    partner: Partner | None,
    now: float | None,
    validator_6492: bytes | None,
) -> SignedIn:
    now = time.time() if now is None else now
    message = parse(text)
    check(message, expectation(settings, chain_id), _utc(now))
    if names_twinmark(message):
        raise NotASignIn("this message grants a consent (a Twinmark ReCap); it cannot open a session")
    partner_id = partner.id if partner is not None else None
    nonce_hash = _sha256(message.nonce)
    live = (
        col(SiweNonce.nonce_hash) == nonce_hash,
        col(SiweNonce.used_at).is_(None),
        col(SiweNonce.expires_at) > int(now),
        col(SiweNonce.purpose) == PURPOSE_SIGN_IN,  # a consent's nonce never opens a session
        _same_caller(partner_id),
    )
    if s.exec(select(SiweNonce).where(*live)).first() is None:
        raise BadNonce("the nonce was not issued to this caller, was already used, or has expired")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None
    kind = signed_by(chain, message.address, text, raw, validator_6492=validator_6492)
    if kind is None:
        refused = BadSignature(f"the signature is not {message.address}'s for this message")
        refused.nonce_hash = nonce_hash
        raise refused
    # Spent atomically: of two requests racing with one nonce, exactly one updates the row.
    spent = s.execute(update(SiweNonce).where(*live).values(used_at=int(now)))
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise BadNonce("the nonce was already used")
    expires = now + settings.siwe_session_seconds
    if message.expiration is not None:
        expires = min(expires, message.expiration.timestamp())
    return open_session(s, message.address, message.chain_id, partner, kind, expires)


def open_session(
    s: Session, address: str, chain_id: int, partner: Partner | None, kind: str, expires: float
) -> SignedIn:
    """A new player session for `address`, once its owner proved control (SIWE here, a passkey in
    `registry.owners`): the token is returned once and stored only as its SHA-256."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    s.add(
        SiweSession(
            token_hash=_sha256(token),
            address=address,
            chain_id=chain_id,
            partner_id=partner.id if partner is not None else None,
            signature_kind=kind,
            expires_at=int(expires),
        )
    )
    return SignedIn(token=token, player=Player(address, chain_id, partner, _utc(int(expires)), kind))


def _live_session(s: Session, token: str, now: float) -> SiweSession:
    if not token.startswith(TOKEN_PREFIX):
        raise Unauthenticated("a player session token is required (Authorization: Bearer tms_...)")
    row = s.get(SiweSession, _sha256(token))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthenticated("the player session is unknown, signed out or expired: sign in again")
    return row


def player(s: Session, token: str, now: float | None = None) -> Player:
    """The player a session token belongs to; Unauthenticated when it is unknown, revoked or expired,
    or when the partner whose key opened it has since been revoked or removed.

    The token is a bearer token for the address (anyone holding it acts as that player, within the
    routes that take a player session); the partner is recorded for attribution and bounds the
    session's life: a game platform cut off by the operator takes its players' sessions with it."""
    row = _live_session(s, token, time.time() if now is None else now)
    partner = None
    if row.partner_id is not None:
        partner = s.get(Partner, row.partner_id)
        if partner is None or partner.revoked_at is not None:
            raise Unauthenticated("the game platform this session was opened through no longer has access")
    return Player(row.address, row.chain_id, partner, _utc(row.expires_at), row.signature_kind)


def sign_out(s: Session, token: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    _live_session(s, token, now).revoked_at = int(now)
