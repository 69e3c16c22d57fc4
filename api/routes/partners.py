"""Partner accounts (resale partners, game platforms), created by the operator."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from api.deps import OperatorDep, SessionDep
from registry.auth.schemas import PartnerCreated, PartnerIn
from registry.auth.service import create_partner as new_partner
from registry.auth.service import revoke_partner as revoke

router = APIRouter(tags=["partners"])


@router.post("/v1/partners", status_code=status.HTTP_201_CREATED, dependencies=[OperatorDep])
def create_partner(body: PartnerIn, s: SessionDep) -> PartnerCreated:
    """Operator: a resale partner or game platform; its API key (`tmp_...`) is shown once."""
    partner, key = new_partner(s, body.name)
    return PartnerCreated(id=partner.id, name=partner.name, api_key=key)


@router.post("/v1/partners/{partner_id}/revoke", status_code=status.HTTP_204_NO_CONTENT, dependencies=[OperatorDep])
def revoke_partner(partner_id: str, s: SessionDep) -> Response:
    """Operator: the partner's key fails from now on, and so do the player sessions its game opened."""
    revoke(s, partner_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
