"""Verification: is this twin authentic, and why. Each answer lists every check with its result.

The verdict comes from the chain and from content re-hashed against its CID. One JSON-RPC round trip
reads the chain: the registry's `twinReport` (collection, brand, compromise windows, twin) batched
with the twin's events in the blocks the index has not reached; the older history (owner since,
owners, service records, what was changed while the brand was compromised) comes from the index,
which the indexer keeps from the chain. Chain facts are cached for the current head block only;
content checks are cached by CID for good (a CID names immutable bytes, and the block store verifies
every block it reads); passing answers are reused until the head moves (at most a minute).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cachetools import LRUCache, TTLCache
from sqlalchemy import Engine
from sqlmodel import Session
from web3 import Web3

from registry.chain.client import TwinmarkChain
from registry.chain.layout import kind_name, status_name
from registry.chain.reads import LogReads
from registry.chain.report import OnChainBrand, OnChainTwin, TwinReport
from registry.errors import ContentIntegrityError, ContentUnavailable, InvalidInput
from registry.ipfs.cid import CID
from registry.ipfs.store import ContentStore, cat, directory_entries
from registry.ipfs.urls import gateway_url, gateway_urls
from registry.provenance.schemas import TimelineEntry
from registry.provenance.service import Ownership, about, indexed_part_many, summary, timeline
from registry.twins.metadata import referenced_cids
from registry.verify.batching import Batcher
from registry.verify.schemas import ChainBrand, CheckOut, ServiceRecordRef, VerificationOut, VerifiedTwin

CONTENT_TTL = 60.0
CACHE_SIZE = 50_000


class Head(Protocol):
    @property
    def block(self) -> int: ...


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Facts:
    """What the chain and the index say of one twin at one head block (no twin: never minted, burned,
    or not a collection of this registry)."""

    checks: tuple[Check, ...]
    twin: OnChainTwin | None = None
    brand: ChainBrand | None = None
    history: Ownership | None = None


@dataclass(frozen=True)
class ContentResult:
    checks: tuple[Check, ...]
    metadata_cid: str | None
    document: dict[str, Any] | None


class Verifier:
    def __init__(
        self,
        chain: TwinmarkChain | LogReads,
        store: ContentStore,
        head: Head,
        engine: Engine | None = None,
        *,
        gateway_base: str | None = None,
        cache_entries: int = CACHE_SIZE,
    ) -> None:
        self.gateway_base = gateway_base  # https URLs of content are given under it (when set)
        self.chain = chain
        self.store = store
        self.head = head
        self.engine = engine  # the index; None: every event from the chain (bounded spans)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe
        # Chain facts of the current head block only: facts of an older head are never read again, so
        # the whole cache goes when the head moves (kept per twin, every twin ever verified held a dead
        # entry of ~3 KB until CACHE_SIZE of them filled the LRU: the soak's API grew by it).
        self._cache_entries = cache_entries
        self._facts_block = -1
        self._chain_facts: LRUCache[tuple[str, int], Facts] = LRUCache(cache_entries)
        # Keyed by CID: immutable, so a passing check holds for good (failures are never kept). The
        # metadata is kept as the file's bytes and parsed per answer: ~0.6 KB a twin where the parsed
        # document took ~4 KB, and no answer shares a mutable document with the cache.
        self._content: LRUCache[str, tuple[bytes, tuple[Check, ...]]] = LRUCache(cache_entries)
        self._assets_ok: LRUCache[str, bool] = LRUCache(cache_entries)
        self._directories: LRUCache[str, dict[str, CID]] = LRUCache(64)  # batch directories, decoded once
        self._directory_lock = threading.Lock()
        self._answers: TTLCache[tuple[str, int], tuple[int, bytes]] = TTLCache(cache_entries, CONTENT_TTL)
        self._batcher: Batcher[tuple[str, int, int], Facts] = Batcher(self._read_many)

    def cached_json(self, collection: str, token_id: int) -> bytes | None:
        """A complete answer (JSON) for the current head block without any I/O, if one is known."""
        with self._lock:
            hit = self._answers.get((collection, token_id))
        if hit is None or hit[0] != self.head.block:
            return None
        return hit[1]

    def verify_json(self, collection: str, token_id: int) -> bytes:
        answer = self.verify(collection, token_id)
        # Unset fields stay out of the body, as they always did: `twin` when there is none, the https
        # URLs when no gateway is configured.
        body = answer.model_dump_json(exclude_unset=True).encode()
        if answer.authentic:  # only passing answers are reused; failures are always re-checked
            with self._lock:
                self._answers[(collection, token_id)] = (answer.as_of_block, body)
        return body

    def verify(self, collection: str, token_id: int) -> VerificationOut:
        try:
            contract = Web3.to_checksum_address(collection)
        except ValueError:
            raise InvalidInput(f"{collection!r} is not a contract address") from None
        return self._verify(contract, token_id, self.head.block)

    def _verify(self, contract: str, token_id: int, block: int) -> VerificationOut:
        with self._lock:
            facts = self._chain_facts.get((contract, token_id)) if block == self._facts_block else None
        if facts is None:
            facts = self._batcher.get((contract, token_id, block))  # concurrent cold verifications share one round trip
            with self._lock:
                if block > self._facts_block:
                    self._chain_facts = LRUCache(self._cache_entries)
                    self._facts_block = block
                if block == self._facts_block:  # a slower reader of an older head does not win
                    self._chain_facts[(contract, token_id)] = facts
        checks: list[Check] = list(facts.checks)
        twin = facts.twin
        if twin is None or facts.brand is None or facts.history is None:
            return VerificationOut(
                contract=contract, token_id=token_id, as_of_block=block, authentic=False, checks=_out(checks)
            )
        content = self._content_for(twin.uri)
        checks += content.checks
        checks.append(
            Check("status", twin.status == 0, f"reported {status_name(twin.status)}")
            if twin.status
            else Check("status", True, "not reported lost or stolen")
        )
        doc = content.document or {}
        history = facts.history
        record = history.last_service_record
        verified = VerifiedTwin(
            name=doc.get("name"),
            kind=kind_name(twin.kind),
            owner=twin.owner,
            status=status_name(twin.status),
            claimed=twin.claimed,
            unclaimed=twin.claimable,
            owner_since=history.owner_since,
            owners=history.owners,
            last_service_record=None
            if record is None
            else ServiceRecordRef(
                provider=record.get("provider"),
                record_cid=record.get("record_cid"),
                block_time=record.block_time,
                tx_hash=record.tx_hash,
            ),
            batch_id=twin.batch_id,
            minted_at=datetime.fromtimestamp(twin.minted_at, UTC).isoformat(),
            token_uri=twin.uri,
            **self._urls(twin.uri, content.document),
            metadata_cid=content.metadata_cid,
            brand=facts.brand,
            metadata=content.document,
        )
        return VerificationOut(
            contract=contract,
            token_id=token_id,
            as_of_block=block,
            twin=verified,
            authentic=all(c.ok for c in checks),
            checks=_out(checks),
        )

    def _content_for(self, uri: str) -> ContentResult:
        """Content checks, cached by the metadata file's CID when they pass (failures are always
        re-checked)."""
        try:
            file_cid = self._resolve(uri)
        except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
            return ContentResult((Check("metadata_integrity", False, f"{uri}: {exc}"),), None, None)
        key = str(file_cid)
        with self._lock:
            hit = self._content.get(key)
        if hit is not None:
            resolved = Check("metadata_integrity", True, f"{uri} resolves to {file_cid}, whose bytes hash to it")
            raw, rest = hit
            return ContentResult((resolved, *rest), key, json.loads(raw))
        result, raw = self._check_content(uri, file_cid)
        if all(c.ok for c in result.checks):
            with self._lock:
                self._content[key] = (raw, result.checks[1:])
        return result

    def _urls(self, uri: str, document: dict[str, Any] | None) -> dict[str, Any]:
        if self.gateway_base is None or not uri.startswith("ipfs://"):
            return {}
        return {
            "token_url": gateway_url(uri, self.gateway_base),
            "content_urls": gateway_urls(document or {}, self.gateway_base),
        }

    # ------------------------------------------------------------ chain

    def _read_many(self, keys: list[tuple[str, int, int]]) -> list[Facts]:
        """Chain facts of several (contract, token, head): the index's part of their histories in one
        query, then one round trip for their reports and the blocks beyond the index."""
        out: dict[tuple[str, int, int], Facts] = {}
        pairs = [(contract, token) for contract, token, _ in keys]
        indexed: dict[tuple[str, int], list[Any]] = {pair: [] for pair in pairs}
        indexed_to: int | None = None
        if self.engine is not None and isinstance(self.chain, TwinmarkChain):  # a standalone verifier has no index
            with Session(self.engine) as s:
                indexed, indexed_to, _ = indexed_part_many(s, self.chain, pairs)
        start = indexed_to + 1 if indexed_to is not None else self.chain.from_block
        for head in {head for _, _, head in keys}:  # one head in practice: the one all answers are as of
            group = [(contract, token) for contract, token, h in keys if h == head]
            for (contract, token), (report, recent) in zip(
                group, self.chain.reports_and_recent(group, start, head), strict=True
            ):
                entries = timeline(about(token, indexed[(contract, token)] + recent))
                out[(contract, token, head)] = self._facts(contract, token, report, entries)
        return [out[key] for key in keys]

    def _facts(self, contract: str, token_id: int, report: TwinReport, entries: list[TimelineEntry]) -> Facts:
        checks: list[Check] = []
        if report.brand is None:
            checks.append(
                Check("genuine_collection", False, f"{contract} is not a collection of this Twinmark registry")
            )
            return Facts(tuple(checks))
        brand_id, brand = report.brand_id, report.brand
        checks.append(
            Check(
                "genuine_collection",
                True,
                f"collection of brand #{brand_id} ({brand.name}) in registry {self.chain.registry_address}",
            )
        )
        twin = report.twin
        if twin is None:
            reason = "was destroyed (burned) by its owner" if report.burned else "was never minted"
            checks.append(Check("token_exists", False, f"token {token_id} {reason}"))
            return Facts(tuple(checks), brand=_brand(brand_id, brand))
        checks.append(Check("token_exists", True, f"token {token_id} of batch {twin.batch_id}, owned by {twin.owner}"))
        minted = datetime.fromtimestamp(twin.minted_at, UTC).isoformat()
        history = summary(entries, twin.owner)
        problems = [f"minted at {minted}"] if report.compromised_at(twin.minted_at) else []
        problems += self._set_while_compromised(report, entries)
        checks.append(
            Check("issuer_standing", False, "; ".join(problems) + ", while the brand's keys were compromised")
            if problems
            else Check(
                "issuer_standing",
                True,
                f"minted at {minted} by an active brand whose keys were not compromised"
                + (", as were its content and status changes" if len(entries) > 1 else ""),
            )
        )
        return Facts(tuple(checks), twin, _brand(brand_id, brand), history)

    @staticmethod
    def _set_while_compromised(report: TwinReport, entries: list[TimelineEntry]) -> list[str]:
        """What of the twin's current state the brand's keys set inside a compromise window: its current
        content (a content update), or its current `active` status (a brand's "recovered" clearing a
        theft report; lost and stolen already fail the status check)."""
        found = []
        content = next((e for e in reversed(entries) if e.event == "content_updated"), None)
        status = next((e for e in reversed(entries) if e.event == "status_changed"), None)
        for entry, what in ((content, "current content"), (status, "current status")):
            if entry is None or (what == "current status" and entry.get("status") != "active"):
                continue
            if report.compromised_at(int(datetime.fromisoformat(entry.block_time).timestamp())):
                found.append(f"{what} set at {entry.block_time} (tx {entry.tx_hash})")
        return found

    # ------------------------------------------------------------ content

    def _resolve(self, uri: str) -> CID:
        if not uri.startswith("ipfs://"):
            raise ContentIntegrityError(f"token URI {uri!r} is not an ipfs:// URI")
        root, _, path = uri.removeprefix("ipfs://").partition("/")
        cid = CID.parse(root)
        return self._entry(cid, path) if path else cid

    def _entry(self, directory: CID, name: str) -> CID:
        """The CID linked as `name` in a UnixFS directory; a batch directory is decoded once."""
        key = str(directory)
        with self._lock:
            entries = self._directories.get(key)
        if entries is None:
            # One decode per directory: the first verifications of a new batch all need it at once.
            with self._directory_lock:
                with self._lock:
                    entries = self._directories.get(key)
                if entries is None:
                    entries = directory_entries(self.store, directory)
                    with self._lock:
                        self._directories[key] = entries
        if name not in entries:
            raise ContentUnavailable(f"{directory} has no entry {name!r}")
        return entries[name]

    def _check_content(self, uri: str, file_cid: CID) -> tuple[ContentResult, bytes]:
        """The content checks, and the metadata file's bytes (b"" when unreadable)."""
        try:
            raw = cat(self.store, file_cid, limit=1024 * 1024)
            document = json.loads(raw)
            if not isinstance(document, dict):
                raise ContentIntegrityError("metadata is not a JSON object")
        except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
            return ContentResult((Check("metadata_integrity", False, f"{uri}: {exc}"),), None, None), b""
        checks = [Check("metadata_integrity", True, f"{uri} resolves to {file_cid}, whose bytes hash to it")]
        failures = []
        assets = referenced_cids(document)
        for text in assets:
            with self._lock:
                known = text in self._assets_ok
            if known:
                continue
            try:
                cat(self.store, CID.parse(text), limit=256 * 1024 * 1024)
            except (ContentUnavailable, ContentIntegrityError, ValueError) as exc:
                failures.append(f"{text}: {exc}")
                continue
            with self._lock:
                self._assets_ok[text] = True
        if failures:
            checks.append(Check("assets_integrity", False, "; ".join(failures)))
        else:
            checks.append(Check("assets_integrity", True, f"{len(assets)} referenced asset(s) hash to their CIDs"))
        return ContentResult(tuple(checks), str(file_cid), document), raw


def _out(checks: list[Check]) -> list[CheckOut]:
    return [CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in checks]


def _brand(brand_id: int, brand: OnChainBrand) -> ChainBrand:
    return ChainBrand(
        id=brand_id, admin=brand.admin, registered_at=brand.registered_at, suspended=brand.suspended, name=brand.name
    )
