"""Sign-In with Ethereum (EIP-4361) for players: a nonce, a signed message, a session token.

A game platform calls with its partner key (`Authorization: Bearer tmp_...`) and the session is
scoped to it; a player's own browser may call with no key. Routes that act for a player take the
session token (`Authorization: Bearer tms_...`, `api.deps.PlayerDep`)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from api.deps import KEY_OPTIONAL, ChainDep, Credentials, OptionalCallerDep, PlayerDep, SessionDep, SettingsDep
from api.routes.common import client_address
from registry.auth.models import Partner
from registry.auth.service import Caller
from registry.errors import Forbidden
from registry.siwe import service as siwe
from registry.siwe.schemas import NonceOut, PartnerRef, PlayerOut, SessionOut, VerifyIn

router = APIRouter(tags=["players"])


def _partner(caller: Caller | None) -> Partner | None:
    if caller is None:
        return None
    if caller.partner is None:
        raise Forbidden("player sign-in takes a partner's (game platform's) key or none; not a brand's")
    return caller.partner


def _ref(partner: Partner | None) -> PartnerRef | None:
    return None if partner is None else PartnerRef(id=partner.id, name=partner.name)


@router.post("/v1/siwe/nonce", status_code=status.HTTP_201_CREATED, openapi_extra=KEY_OPTIONAL)
def create_nonce(
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
    caller: OptionalCallerDep,
    request: Request,
    response: Response,
) -> NonceOut:
    """A single-use nonce for one EIP-4361 message, with the domain, URI origin and chain id the
    message must carry. Only the same caller (the same partner key, or no key) can spend it.
    Limited per client address (anonymous) or per partner key: 429 with Retry-After beyond."""
    partner = _partner(caller)
    issued = siwe.issue_nonce(s, settings, partner.id if partner else None, client_address(request))
    expected = siwe.expectation(settings, chain.chain_id)
    response.headers["Cache-Control"] = "no-store"
    return NonceOut(
        nonce=issued.nonce,
        expires_at=issued.expires_at,
        domain=expected.domain,
        uri=expected.origin,
        chain_id=expected.chain_id,
    )


@router.post("/v1/siwe/verify", status_code=status.HTTP_201_CREATED, openapi_extra=KEY_OPTIONAL)
def verify(
    body: VerifyIn,
    settings: SettingsDep,
    chain: ChainDep,
    s: SessionDep,
    caller: OptionalCallerDep,
    request: Request,
    response: Response,
) -> SessionOut:
    """Checks the signed message (grammar, domain, URI, chain id, issued-at, expiration, not-before,
    nonce, and the signature: an EOA's, an ERC-1271 wallet's or an EIP-6492 one) and opens a player
    session. The token is in this answer only; it lasts `siwe_session_seconds` at most.
    A nonce is burnt after `siwe_failures_per_nonce` refused signatures; a client with
    `siwe_failures_per_minute` refusals in a minute gets 429 with Retry-After."""
    partner = _partner(caller)
    signed = siwe.sign_in(
        s,
        settings,
        siwe.NodeCalls(chain, gas=settings.siwe_call_gas),
        chain.chain_id,
        body.message,
        body.signature,
        partner,
        client=client_address(request),
    )
    response.headers["Cache-Control"] = "no-store"
    p = signed.player
    return SessionOut(
        token=signed.token,
        address=p.address,
        chain_id=p.chain_id,
        expires_at=p.expires_at,
        partner=_ref(p.partner),
        signature_kind=p.signature_kind,
    )


@router.get("/v1/siwe/session")
def who(player: PlayerDep, response: Response) -> PlayerOut:
    """The signed-in player this session token stands for (never the token itself)."""
    response.headers["Cache-Control"] = "no-store"
    return PlayerOut(
        address=player.address,
        chain_id=player.chain_id,
        expires_at=player.expires_at,
        partner=_ref(player.partner),
        signature_kind=player.signature_kind,
    )


@router.delete("/v1/siwe/session", status_code=status.HTTP_204_NO_CONTENT)
def sign_out(player: PlayerDep, s: SessionDep, credentials: Credentials) -> Response:
    """Signs out: the token stops working at once."""
    assert credentials is not None  # PlayerDep already required it
    siwe.sign_out(s, credentials.credentials)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
