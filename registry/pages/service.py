"""The verification page's view model: the verifier's verdict in plain words, the twin's passport,
its ownership and service history, and what the page's own script needs to re-check the verdict
without this service (the chain's RPC URL, the registry, a gateway, the ABI fragments it decodes)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypedDict

from sqlmodel import Session

from registry.alerts.caution import Caution
from registry.chain import artifacts
from registry.chain.client import TwinmarkChain
from registry.chain.refusals import movable_from_iso
from registry.pages.catalog import checks_for, texts_for
from registry.pages.passport import details, dpp_rows, nfc_lines
from registry.pages.schemas import CautionView, CheckView, PageModel, ServiceView, TapRefusal, TapView
from registry.provenance.service import indexed_many, timeline
from registry.verify.schemas import ServiceRecordRef, VerificationOut

# The texts the page's script shows (the rest stay on the server).
SCRIPT_TEXTS = (
    "passed",
    "failed",
    "technical",
    "claim_done",
    "claim_from_link",
    "resale_done",
    "resale_not_owner",
    "connected",
    "no_wallet",
    "pending",
    "mined",
    "refused",
    "recheck_running",
    "recheck_ok",
    "recheck_ok_body",
    "recheck_differs",
    "recheck_failed",
    "recheck_error",
    "recheck_row",
    # the owner's door (api/static/owner.js)
    "door_signed_in",
    "door_created",
    "door_not_yours",
    "door_reported",
    "door_device_added",
    "door_device",
    "door_device_synced",
    "door_device_remove",
    "door_device_removed",
    "door_mismatch",
    "door_account_mismatch",
    "door_unsupported",
    "door_cancelled",
    "door_status_lost",
    "door_status_stolen",
    "door_status_active",
    "my_empty",
)


def when(iso: str | None) -> str | None:
    """A block time for people: `2026-03-14 10:20 UTC` (the same in both languages)."""
    if not iso:
        return None
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M UTC")


def caution_view(caution: Caution | None, lang: str) -> CautionView | None:
    """The page's caution block, in its language (None: nothing to say)."""
    return None if caution is None else CautionView(rule=caution.rule, text=caution.text(lang))


def tap_time(texts: dict[str, str], tapped_at: int, now: float) -> str:
    """When a tap was checked and how long ago: `Tapped 14:02:31 UTC, 12 s ago` (a ticket lives about a
    minute, so the time of day is enough; the age is never negative, whatever a server's clock says)."""
    clock = datetime.fromtimestamp(tapped_at, UTC).strftime("%H:%M:%S UTC")
    return texts["tap_time"].format(time=clock, age=max(0, int(now - tapped_at)))


class AbiFragments(TypedDict):
    """ABI entries as the compiler wrote them (JSON for the page's script, passed on unread)."""

    twinReport: dict[str, Any]
    events: list[dict[str, Any]]


@cache
def abi_fragments() -> AbiFragments:
    """What the page's script encodes and decodes: `twinReport` and the two events that can change a
    twin's standing after its mint (content updates, status changes)."""
    registry_abi = artifacts.load("TwinmarkRegistry").abi
    collection_abi = artifacts.load("TwinmarkCollection").abi
    events = ("ContentUpdated", "StatusChanged")
    return {
        "twinReport": next(i for i in registry_abi if i.get("name") == "twinReport"),
        "events": [i for i in collection_abi if i.get("type") == "event" and i.get("name") in events],
    }


def script_json(value: Any) -> str:
    """JSON safe inside a `<script type="application/json">` element: no `<`, `>` or `&` survive, so no
    text can close the element or open a comment."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def gateway_url(gateway_base: str, uri: str) -> str | None:
    """The https (gateway) URL of an `ipfs://` URI."""
    return f"{gateway_base}/{uri.removeprefix('ipfs://')}" if uri.startswith("ipfs://") else None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _checks(verdict: VerificationOut, lang: str) -> list[CheckView]:
    words = checks_for(lang)
    out = []
    for check in verdict.checks:
        text = words.get(check.name, {"title": check.name, "ok": "", "fail": ""})
        out.append(
            CheckView(
                name=check.name,
                ok=check.ok,
                title=text["title"],
                explanation=text["ok" if check.ok else "fail"],
                detail=check.detail,
            )
        )
    return out


def _transfer_note(chain: TwinmarkChain, contract: str, token_id: int, texts: dict[str, str]) -> str | None:
    """The collection's transfer policy for this twin, in words; None when it is open."""
    policy = chain.transfer_policy(contract)[0]
    if policy == 0:
        return None
    if policy == 2:
        return texts["transfer_locked"]
    iso = movable_from_iso(chain.movable_from(contract, token_id))
    return texts["gift_from"].format(date=iso[:10]) if iso else None


def _service(
    session: Session,
    chain: TwinmarkChain,
    contract: str,
    token_id: int,
    gateway: str,
    latest: ServiceRecordRef | None,
) -> list[ServiceView]:
    """The twin's service records: from the index (one narrow query, no chain round trip: the page is
    the busiest public route), plus the verdict's latest record when the index has not reached it yet
    (the verifier reads the blocks beyond the index in its own round trip). No latest record: the twin
    has none at the verdict's block, indexed or not (the verifier saw its whole history), so the index
    is not asked: most twins have no service history, and this was the cold page's one query."""
    if latest is None:
        return []
    logs = indexed_many(session, chain, [(contract, token_id)], names={"ServiceRecorded"})[(contract, token_id)]
    records = [
        ServiceRecordRef(
            provider=e.get("provider"), record_cid=e.get("record_cid"), block_time=e.block_time, tx_hash=e.tx_hash
        )
        for e in timeline(logs)
        if e.event == "service_recorded"
    ]
    if latest is not None and latest.tx_hash not in {r.tx_hash for r in records}:
        records.append(latest)
    return [
        ServiceView(
            provider=r.provider,
            record_cid=r.record_cid,
            record_url=f"{gateway}/{r.record_cid}",
            block_time=when(r.block_time) or "",
        )
        for r in records
    ]


def build(
    *,
    verdict: VerificationOut,
    session: Session,
    chain: TwinmarkChain,
    lang: str,
    gateway_base: str,
    rpc_url: str,
    log_span: int,
    tap: TapView | None = None,
    tap_refusal: TapRefusal | None = None,
    now: float | None = None,
) -> PageModel:
    """The page of one twin from its verdict (`Verifier.verify`) and its indexed history, with the
    verdict of the tap that led to it (`tap`), or why a tap ticket shows none (`tap_refusal`)."""
    texts = texts_for(lang)
    when_tapped = None
    if tap is not None and tap.tapped_at is not None:
        when_tapped = tap_time(texts, tap.tapped_at, now if now is not None else time.time())
    contract, token_id, twin = verdict.contract, verdict.token_id, verdict.twin
    checks = _checks(verdict, lang)
    config = {
        "contract": contract,
        "tokenId": str(token_id),
        "registry": chain.registry_address,
        "chainId": chain.chain_id,
        "rpcUrl": rpc_url,
        "gateway": gateway_base,
        "fromBlock": chain.from_block,
        "logSpan": log_span,
        "abi": abi_fragments(),
        "server": {"authentic": verdict.authentic, "checks": {c.name: c.ok for c in verdict.checks}},
        "checkTitles": {c.name: c.title for c in checks},
        "texts": {key: texts[key] for key in SCRIPT_TEXTS},
        "passkeys": chain.passkeys_supported,  # the owner's door is offered only where accounts can exist
        "api": {
            "claim": f"/v1/twins/{contract}/{token_id}/claim",
            "typedData": f"/v1/twins/{contract}/{token_id}/transfers/typed-data",
            "transfers": f"/v1/twins/{contract}/{token_id}/transfers",
            "transactions": "/v1/transactions/",
            "passkeyTransfer": f"/v1/twins/{contract}/{token_id}/transfers/passkey",
            "passkeyStatus": f"/v1/twins/{contract}/{token_id}/status/passkey",
        },
    }
    if twin is None:
        return PageModel(
            lang=lang,
            texts=texts,
            contract=contract,
            token_id=token_id,
            found=False,
            authentic=False,
            verdict_lead=texts["verdict_fail_lead"],
            checks=checks,
            config=config,
        )
    doc = twin.metadata or {}  # the content as its brand published it: read defensively
    brand = twin.brand.name
    section = _object(doc.get("twinmark"))
    passport = _object(section.get("passport"))
    image_uris = passport.get("images") or ([doc["image"]] if isinstance(doc.get("image"), str) else [])
    images = [url for url in (gateway_url(gateway_base, u) for u in image_uris if isinstance(u, str)) if url]
    lead = texts["verdict_ok_lead"].format(brand=brand) if verdict.authentic else texts["verdict_fail_lead"]
    return PageModel(
        lang=lang,
        texts=texts,
        contract=contract,
        token_id=token_id,
        found=True,
        name=twin.name or doc.get("name"),
        description=str(doc.get("description") or ""),
        kind=twin.kind,
        brand=brand,
        images=images,
        authentic=verdict.authentic,
        verdict_lead=lead,
        checks=checks,
        status=twin.status,
        owner=twin.owner,
        owner_since=when(twin.owner_since),
        owners=twin.owners,
        unclaimed=twin.unclaimed,
        transfer_note=_transfer_note(chain, contract, token_id, texts),
        service=_service(session, chain, contract, token_id, gateway_base, twin.last_service_record),
        details=details(passport, texts),
        dpp=dpp_rows(passport.get("dpp"), texts),
        nfc=nfc_lines(passport.get("nfc"), texts),
        tap=tap,
        tap_time=when_tapped,
        tap_refusal=tap_refusal,
        config=config,
    )
