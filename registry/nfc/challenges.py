"""HaLo challenge-response: the service issues a nonce bound to one twin; the chip's signature over
it (libhalo `sign_challenge`, key slot 2) proves the chip is here now. Single use, short-lived."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from registry.db import ratelimit
from registry.db.ratelimit import Limit
from registry.errors import Gone, InvalidInput, NotFound
from registry.nfc import halo
from registry.nfc.models import NfcChallenge, NfcTag
from registry.nfc.schemas import ChallengeResult
from registry.nfc.service import bound_in_content, tags_of
from registry.twins.models import Twin

TTL = timedelta(minutes=2)
# Each challenge is a row: a client cannot fill the table (expired rows are swept at each issue).
ISSUED = Limit("nfc-challenges:client", 60, timedelta(minutes=10), "NFC challenges from this client", ceiling=6_000)


def issue(session: Session, contract: str, token_id: int, client: str) -> NfcChallenge:
    twin = session.get(Twin, (contract, token_id))
    if twin is None or not any(t.kind == "halo" for t in tags_of(session, contract, token_id)):
        raise NotFound(f"no HaLo chip is enrolled for twin {token_id} in {contract}")
    ratelimit.hit(session, [(ISSUED, client)])
    now = datetime.now(UTC)
    session.connection().execute(delete(NfcChallenge).where(col(NfcChallenge.expires_at) < now - TTL))
    challenge = NfcChallenge(
        id=str(uuid.uuid4()),
        collection=contract,
        token_id=token_id,
        nonce=secrets.token_bytes(32).hex(),
        expires_at=now + TTL,
    )
    session.add(challenge)
    return challenge


def answer(session: Session, challenge_id: str, signature: bytes) -> ChallengeResult:
    """Gone if the challenge was answered before (whatever the answer) or has expired; otherwise
    whether an enrolled chip of the challenge's twin signed its nonce."""
    try:
        halo.parse_signature(signature)  # malformed input is refused before the challenge is spent
    except halo.HaloError as exc:
        raise InvalidInput(f"signature: {exc}") from None
    challenge = session.get(NfcChallenge, challenge_id)
    if challenge is None:
        raise NotFound(f"no challenge {challenge_id}")
    now = datetime.now(UTC)
    spend = (
        update(NfcChallenge)
        .where(col(NfcChallenge.id) == challenge_id, col(NfcChallenge.used_at).is_(None))
        .values(used_at=now)
    )
    if session.connection().execute(spend).rowcount != 1:
        raise Gone("this challenge was already answered; ask for a new one")
    expires = challenge.expires_at if challenge.expires_at.tzinfo else challenge.expires_at.replace(tzinfo=UTC)
    if expires <= now:
        raise Gone("this challenge has expired; ask for a new one")
    candidates = halo.signers(halo.challenge_digest(bytes.fromhex(challenge.nonce)), signature)
    query = select(NfcTag).where(NfcTag.kind == "halo", col(NfcTag.identity).in_(candidates))
    signers = list(session.exec(query).all())
    twin = session.get(Twin, (challenge.collection, challenge.token_id))
    mine = [t for t in signers if (t.collection, t.token_id) == (challenge.collection, challenge.token_id)]
    if mine and twin is not None:
        return ChallengeResult(
            present=True,
            code="genuine-fresh",
            detail="the twin's chip signed this challenge: it is present",
            address=mine[0].identity,
            bound_in_content=bound_in_content(twin, mine[0]),
        )
    if signers:
        return ChallengeResult(
            present=False,
            code="wrong-twin",
            detail="a genuine chip signed it, but one bound to another twin",
            address=None,
            bound_in_content=False,
        )
    return ChallengeResult(
        present=False,
        code="forged",
        detail="the signature is not by a chip enrolled for this twin",
        address=None,
        bound_in_content=False,
    )
