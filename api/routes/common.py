"""Path and body helpers shared by the routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Request, Response, status
from pydantic import BaseModel
from web3 import Web3

from api.deps import settings_of
from api.server import client_key, trusted_networks
from registry.errors import InvalidInput

# Token ids and stream positions are stored as 64-bit integers: larger ones are refused as input (422),
# never passed on to the database or the ABI encoder (which answered 500).
MAX_ID = 2**63 - 1
TokenId = Annotated[int, Path(ge=0, le=MAX_ID, description="token id: batchId * 10,000 + index")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]


def checksum(contract: str) -> str:
    """A contract address from a path, checksummed; InvalidInput otherwise."""
    if not Web3.is_address(contract):
        raise InvalidInput(f"{contract!r} is not a contract address")
    return Web3.to_checksum_address(contract)


def signature_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.removeprefix("0x"))
    except ValueError:
        raise InvalidInput("signature must be hex") from None


def pending_answer(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI entry of a relayed call's 202: its transaction was not mined within the relay wait."""
    return {
        202: {
            "model": model,
            "description": "Broadcast, not mined within TWINMARK_RELAY_WAIT_SECONDS (`state`: pending); the"
            " service keeps looking after the transaction: follow it at GET /v1/transactions/{tx_hash}",
        }
    }


def relayed(response: Response, state: str, *, mined: int = status.HTTP_200_OK) -> None:
    """A relayed call answers `mined` once its transaction is mined, 202 Accepted while it is pending."""
    response.status_code = mined if state == "mined" else status.HTTP_202_ACCEPTED


def client_address(request: Request) -> str:
    """The caller's key for per-client limits: the peer address, or, when the peer is a proxy named in
    TWINMARK_TRUSTED_PROXIES, the client its X-Forwarded-For vouches for (`api.server.client_key`)."""
    trusted = trusted_networks(settings_of(request).trusted_proxies)
    return client_key(request.scope, trusted)
