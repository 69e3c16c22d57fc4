"""Sign-In with Ethereum to the console, for an admin who holds the brand's admin wallet
(`brands.admin_address`). The admin links the wallet once, signed in with a passkey and signing an
EIP-4361 message; from then on that wallet signs them in. Both ceremonies reuse registry/siwe's
parser, checks (domain, URI, chain, times) and signature verification (EOA, ERC-1271, EIP-6492).

The server writes the message (the browser only names its address): the page needs no EIP-55 or
message code, and what the wallet shows is exactly what is checked. A wallet signs in only while it is
still the brand's admin address and its member is an active admin: a new admin address on the chain,
a role change or disabling the member ends it."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from web3 import Web3

from registry.brands.models import Brand
from registry.db import ratelimit
from registry.db.engine import session_scope
from registry.errors import Conflict, Forbidden, InvalidInput
from registry.settings import Settings
from registry.siwe.erc6492_code import VALIDATOR_CREATION_CODE
from registry.siwe.message import SiweMessage, parse
from registry.siwe.service import NodeCalls, expectation
from registry.siwe.signatures import signed_by
from registry.siwe.verification import SiweRefused, check
from registry.staff.challenges import LIFE, new_challenge, spend_challenge
from registry.staff.models import StaffMember, StaffRole
from registry.staff.passkeys import SIGN_IN_FAILURES, SignInRefused
from registry.staff.service import member_of

SIGN_IN = "wallet-sign-in"
LINK = "wallet-link"
STATEMENTS = {
    SIGN_IN: "Sign in to the Twinmark brand console.",
    LINK: "Link this wallet to my Twinmark brand console account.",
}
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class WalletCeremony:
    challenge_id: str
    message: str  # the EIP-4361 text for the wallet to sign (personal_sign)


def begin(
    engine: Engine,
    settings: Settings,
    chain_id: int,
    address: str,
    purpose: str,
    *,
    client: str,
    staff_id: str | None = None,
) -> WalletCeremony:
    try:
        checksum = Web3.to_checksum_address(address)
    except (ValueError, TypeError):
        raise InvalidInput("address: an Ethereum address (0x and 40 hex digits)") from None
    nonce = "".join(secrets.choice(_ALPHABET) for _ in range(24))
    expected = expectation(settings, chain_id)
    now = datetime.now(UTC).replace(microsecond=0)
    message = SiweMessage(
        domain=expected.domain,
        address=checksum,
        uri=f"{expected.origin}/console",
        chain_id=chain_id,
        nonce=nonce,
        issued_at=now.isoformat().replace("+00:00", "Z"),
        statement=STATEMENTS[purpose],
        expiration_time=(now + LIFE).isoformat().replace("+00:00", "Z"),
    )
    challenge_id = new_challenge(engine, client, purpose, nonce, staff_id=staff_id)
    return WalletCeremony(challenge_id, message.text)


def _signer(
    engine: Engine,
    settings: Settings,
    chain: NodeCalls,
    chain_id: int,
    challenge_id: str,
    text: str,
    signature: str,
    purpose: str,
) -> tuple[str, str | None]:
    """The address that signed the message for this challenge, and the challenge's member (linking)."""
    challenge = spend_challenge(engine, challenge_id, purpose)
    if challenge is None:
        raise SignInRefused("this sign-in expired or was already used; try again")
    message = parse(text)
    check(message, expectation(settings, chain_id), datetime.now(UTC))
    if message.nonce != challenge.challenge:
        raise SignInRefused("the message is not the one this challenge asked for")
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None
    if signed_by(chain, message.address, text, raw, validator_6492=VALIDATOR_CREATION_CODE) is None:
        raise SignInRefused(f"the signature is not {message.address}'s for this message")
    return message.address, challenge.staff_id


def _admin_wallet(s: Session, brand_id: str) -> str:
    brand = s.get(Brand, brand_id)
    return brand.admin_address.lower() if brand is not None else ""


def link(
    engine: Engine,
    settings: Settings,
    chain: NodeCalls,
    chain_id: int,
    brand_id: str,
    staff_id: str,
    challenge_id: str,
    text: str,
    signature: str,
) -> str:
    """Links the brand's admin wallet to the signed-in admin `staff_id`; the address."""
    address, bound_to = _signer(engine, settings, chain, chain_id, challenge_id, text, signature, LINK)
    if bound_to != staff_id:
        raise SignInRefused("this challenge was issued to another member")
    with session_scope(engine) as s:
        member = member_of(s, brand_id, staff_id)
        if member.role != StaffRole.admin.value:
            raise Forbidden("only an admin may link the brand's admin wallet")
        if address.lower() != _admin_wallet(s, brand_id):
            raise Forbidden(f"{address} is not the brand's admin wallet")
        holder = s.exec(
            select(StaffMember).where(
                col(StaffMember.wallet) == address.lower(),
                col(StaffMember.id) != staff_id,
                col(StaffMember.disabled_at).is_(None),
            )
        ).first()
        if holder is not None:
            raise Conflict("another member of staff already signs in with this wallet")
        member.wallet = address.lower()
    return address


def sign_in(
    engine: Engine,
    settings: Settings,
    chain: NodeCalls,
    chain_id: int,
    challenge_id: str,
    text: str,
    signature: str,
    *,
    client: str,
) -> StaffMember:
    """The admin whose linked wallet signed the message (refusals counted as passkey refusals are)."""
    with session_scope(engine) as s:
        ratelimit.check_failures(s, SIGN_IN_FAILURES, client)
    try:
        address, _ = _signer(engine, settings, chain, chain_id, challenge_id, text, signature, SIGN_IN)
        with session_scope(engine) as s:
            found = [
                member
                for member in s.exec(
                    select(StaffMember).where(
                        col(StaffMember.wallet) == address.lower(),
                        col(StaffMember.role) == StaffRole.admin.value,
                        col(StaffMember.disabled_at).is_(None),
                    )
                )
                if _admin_wallet(s, member.brand_id) == address.lower()
            ]
            if len(found) != 1:
                raise SignInRefused("this wallet signs in no admin: link it first, signed in with your passkey")
            s.expunge(found[0])
            return found[0]
    except (SiweRefused, SignInRefused, InvalidInput):
        with session_scope(engine) as s:
            ratelimit.count(s, [(SIGN_IN_FAILURES, client)])
        raise
