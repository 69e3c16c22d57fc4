"""The alert engine: given each batch of scans the scan log committed (`registry.alerts.worker`), it
runs the rules over each scanned twin's recent history and stores what they find, once per open
(twin, rule), with the scans copied and the twin's chain state at a block as evidence; `alert.raised`
goes out through the webhook outbox in the same transaction.

The engine reads first, then asks the chain (one batched read, only for twins with a new finding),
then writes: no network call while the database holds a write lock."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.alerts import raising, rules
from registry.alerts.models import Alert, AlertCountry
from registry.alerts.policies import policy_for
from registry.alerts.policy import Policy, horizon
from registry.alerts.raising import Candidate
from registry.alerts.state import ChainSource, Windows, aware, twin_states
from registry.chain.layout import status_name
from registry.db.pairs import pairs_in
from registry.errors import ChainUnavailable
from registry.scans.models import Scan

log = logging.getLogger(__name__)
HISTORY_LIMIT = 2_000  # a twin's scans read per batch, newest first (a twin scanned more is already alerting)
FACTS_KEPT = 100_000  # scans' facts the engine keeps between batches (~200 bytes each), oldest forgotten first
BOT = "bot"  # the scan log's agent class of crawlers and monitors


def fact(scan: Any) -> rules.ScanFact:
    """From a `Scan` or a row of the `scans` table."""
    assert scan.id is not None
    return rules.ScanFact(
        id=scan.id,
        at=aware(scan.at),
        channel=scan.channel,
        arrival=scan.arrival,
        tag_kind=scan.tag_kind,
        tag_id=scan.tag_id,
        counter=scan.counter,
        valid=scan.valid,
        evidence=scan.evidence,
        country=scan.country,
        latitude=scan.latitude,
        longitude=scan.longitude,
        network=scan.network,
        session=scan.session,
    )


# ---------------------------------------------------------------- the engine


class AlertEngine:
    """Runs the rules on batches of new scans (`registry.alerts.worker` runs it beside the scan log).
    `chain`: where evidence is read (None: no chain facts in the alerts, and no compromise rule)."""

    def __init__(self, chain: ChainSource | None = None, *, remembered: int = FACTS_KEPT) -> None:
        self.chain = chain
        self.windows = Windows(chain)
        # A scan's row never changes once stored: its facts are built once (from the batch that brought
        # it, or the first read) and kept, so a pass reads only the ids of each twin's history.
        self._facts: dict[int, rules.ScanFact] = {}
        self._remembered = remembered

    def process(self, session: Session, batch: Sequence[Scan], *, now: datetime | None = None) -> list[Alert]:
        """Evaluates the rules for the twins (and unknown lookups) of `batch`; stores and returns the alerts
        raised (an open alert of the same twin and rule only gains the new scans). Crawlers' scans
        (agent class "bot") are nobody's: they never count."""
        now = now or datetime.now(UTC)
        batch = [s for s in batch if s.agent != BOT]
        candidates = self._twin_candidates(session, batch, now) + self._lookup_candidates(session, batch, now)
        chain = self._chain_facts(session, candidates)
        raised = [a for c in candidates if (a := raising.store(session, c, chain, now)) is not None]
        self._count_countries(session, batch, now)  # after the rules: this batch's countries were not seen before it
        return raised

    # ------------------------------------------------------------ reading

    def _twin_candidates(self, session: Session, batch: Sequence[Scan], now: datetime) -> list[Candidate]:
        by_twin: dict[tuple[str, int], list[Scan]] = defaultdict(list)
        for scan in batch:
            if scan.collection is not None and scan.token_id is not None and scan.id is not None:
                by_twin[(scan.collection, scan.token_id)].append(scan)
        if not by_twin:
            return []
        states = twin_states(session, list(by_twin), self.windows)
        resolved = self._resolved_since(session, [(st.brand_id, _subject(*k)) for k, st in states.items()])
        policies: dict[tuple[str, str], Policy] = {}
        countries: dict[str, tuple[set[str], int]] = {}
        for state in states.values():
            if (state.brand_id, state.collection) not in policies:
                policies[(state.brand_id, state.collection)] = policy_for(session, state.brand_id, state.collection)
            if state.collection not in countries:
                days = policies[(state.brand_id, state.collection)].exceptional_days
                countries[state.collection] = self._countries(session, state.collection, now - timedelta(days=days))
        longest = max((horizon(p) for p in policies.values()), default=0.0)
        histories = self._histories(session, list(states), now - timedelta(hours=longest), by_twin)
        found: list[tuple[str, tuple[str, int], rules.Finding]] = []
        for key, new in by_twin.items():
            if key not in states:
                continue
            state = states[key]
            policy = policies[(state.brand_id, state.collection)]
            seen, located = countries[state.collection]
            ctx = rules.Context(
                state=state,
                scans=histories[key],
                new=frozenset(s.id for s in new if s.id is not None),
                policy=policy,
                now=now,
                seen_countries=frozenset(seen),
                located_history=located,
            )
            # A resolved alert was the brand saying "seen, fine": only scans after it count again.
            for finding in rules.evaluate(ctx, resolved.get((state.brand_id, _subject(*key)), {})):
                found.append((state.brand_id, key, finding))
        # The rows an alert keeps (every column): the batch's own, the rest read now (findings are few).
        rows: dict[int, Any] = {s.id: s for s in batch if s.id is not None}
        rows |= _rows(session, sorted({i for _, _, f in found for i in f.scans} - rows.keys()))
        return [
            Candidate(brand_id, _subject(*key), key[0], key[1], f, {i: rows[i] for i in f.scans if i in rows})
            for brand_id, key, f in found
        ]

    def _lookup_candidates(self, session: Session, batch: Sequence[Scan], now: datetime) -> list[Candidate]:
        """Lookups of unknown serials under a brand's GTINs, per brand and collection (when known)."""
        groups: dict[tuple[str, str | None], list[Scan]] = defaultdict(list)
        for scan in batch:
            if scan.brand_id is not None and scan.token_id is None:
                groups[(scan.brand_id, scan.collection)].append(scan)
        out = []
        for (brand_id, collection), new in groups.items():
            policy = policy_for(session, brand_id, collection)
            since = now - timedelta(hours=policy.unknown_serial_hours)
            query = select(Scan).where(
                Scan.brand_id == brand_id,
                col(Scan.token_id).is_(None),
                col(Scan.at) >= since,
                (col(Scan.agent) != BOT) | col(Scan.agent).is_(None),
            )
            same = Scan.collection == collection if collection else col(Scan.collection).is_(None)
            query = query.where(same)
            history = sorted(
                {s.id: s for s in [*session.exec(query.limit(HISTORY_LIMIT)).all(), *new]}.values(),
                key=lambda s: (aware(s.at), s.id or 0),
            )
            finding = rules.unknown_serials(
                [fact(s) for s in history], frozenset(s.id for s in new if s.id is not None), policy, now
            )
            if finding is not None:
                subject = f"lookup:{collection or brand_id}"
                scans = {s.id: s for s in history if s.id in finding.scans and s.id is not None}
                out.append(Candidate(brand_id, subject, collection, None, finding, scans))
        return out

    def _histories(
        self, session: Session, keys: list[tuple[str, int]], since: datetime, by_twin: dict[tuple[str, int], list[Scan]]
    ) -> dict[tuple[str, int], list[rules.ScanFact]]:
        """Each twin's scans since `since`, and every earlier tap (a counter is compared with all of them),
        oldest first, the batch's own included even if the database clock disagrees. This is the engine's
        hot path: the query reads ids (a few hundred twins at a time), facts come from the engine's
        memory, and only scans it has not seen (another process's, or before a restart) are read whole."""
        ids: dict[tuple[str, int], set[int]] = defaultdict(set)
        table = Scan.__table__  # type: ignore[attr-defined]
        # Scans committed after this batch's are left to their own batch: under load the writer runs
        # ahead of the engine, and reading them here would read every scan whole twice. Each twin's
        # newest HISTORY_LIMIT only, counted by the database: a twin hammered with scans (a benchmark,
        # an attack on one verify URL) would otherwise cost every batch its whole history.
        newest = max((s.id for scans in by_twin.values() for s in scans if s.id is not None), default=0)
        for i in range(0, len(keys), 300):
            rank = func.row_number().over(
                partition_by=(table.c.collection, table.c.token_id), order_by=(table.c.at.desc(), table.c.id.desc())
            )
            ranked = (
                select(table.c.id, table.c.collection, table.c.token_id, rank.label("rank"))
                .where(
                    pairs_in(table.c.collection, table.c.token_id, keys[i : i + 300]),
                    table.c.id <= newest,
                    (table.c.at >= since) | table.c.counter.is_not(None),
                    (table.c.agent != BOT) | table.c.agent.is_(None),
                )
                .subquery()
            )
            query = select(ranked.c.id, ranked.c.collection, ranked.c.token_id).where(ranked.c.rank <= HISTORY_LIMIT)
            for scan_id, collection, token_id in session.execute(query):
                ids[(collection, token_id)].add(scan_id)
        for scans in by_twin.values():
            for scan in scans:
                if scan.id is not None and scan.id not in self._facts:
                    self._remember(fact(scan))
        unseen = sorted({i for found in ids.values() for i in found} - self._facts.keys())
        for i in range(0, len(unseen), 500):
            for row in session.execute(select(*table.columns).where(table.c.id.in_(unseen[i : i + 500]))):
                self._remember(fact(row))
        out = {}
        for key in keys:
            wanted = ids[key] | {s.id for s in by_twin[key] if s.id is not None}
            facts = [self._facts[i] for i in wanted if i in self._facts]
            facts.sort(key=lambda f: (f.at, f.id))
            out[key] = facts[-HISTORY_LIMIT:]
        return out

    def _remember(self, scan: rules.ScanFact) -> None:
        self._facts[scan.id] = scan
        while len(self._facts) > self._remembered:  # a dict keeps insertion order: the oldest go first
            del self._facts[next(iter(self._facts))]

    def _countries(self, session: Session, collection: str, before: datetime) -> tuple[set[str], int]:
        """The collection's established countries (first seen before `before`) and their scans: the
        history "exceptional country" compares with. Countries first seen since stay new."""
        rows = session.exec(select(AlertCountry).where(AlertCountry.collection == collection)).all()
        known = [r for r in rows if aware(r.first_at) < before]
        return {r.country for r in known}, sum(r.scans for r in known)

    def _resolved_since(
        self, session: Session, subjects: list[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, datetime]]:
        """When each (brand, subject)'s alerts were last resolved, by rule."""
        out: dict[tuple[str, str], dict[str, datetime]] = defaultdict(dict)
        for i in range(0, len(subjects), 500):
            part = subjects[i : i + 500]
            rows = session.exec(
                select(Alert.brand_id, Alert.subject, Alert.rule, func.max(Alert.resolved_at))
                .where(pairs_in(Alert.brand_id, Alert.subject, part), Alert.state == "resolved")
                .group_by(col(Alert.brand_id), col(Alert.subject), col(Alert.rule))
            ).all()
            for brand_id, subject, rule, at in rows:
                if at is not None:
                    out[(brand_id, subject)][rule] = aware(at)
        return out

    def _chain_facts(self, session: Session, candidates: list[Candidate]) -> dict[tuple[str, int], dict[str, Any]]:
        """The twins' chain state at the head, for the candidates not already covered by an open alert."""
        pairs = sorted(
            {
                (c.collection, c.token_id)
                for c in candidates
                if c.collection is not None and c.token_id is not None and raising.open_alert(session, c) is None
            }
        )
        if not pairs or self.chain is None:
            return {}
        try:
            head = self.chain.head()
            reports = self.chain.reports_at(pairs, head)
        except ChainUnavailable:
            # Raised without chain facts (the index's word alone) rather than not at all; the export says so.
            log.warning("alert evidence: the chain is unavailable; %s alerts carry no chain facts", len(pairs))
            return {}
        if reports is None:  # reorganised under the read: no facts this time, the next batch retries
            return {}
        facts = {}
        for (collection, token_id), report in reports.items():
            twin = report.twin
            facts[(collection, token_id)] = {
                "chain_id": self.chain.chain_id,
                "registry": self.chain.registry_address,
                "block_number": head.number,
                "block_hash": head.hash,
                "collection": collection,
                "token_id": token_id,
                "exists": twin is not None,
                "burned": report.burned,
                "owner": twin.owner if twin else None,
                "status": status_name(twin.status) if twin else None,
                "claimed": twin.claimed if twin else None,
                "minted_at": twin.minted_at if twin else None,
                "compromised_at_mint": report.compromised_at(twin.minted_at) if twin else None,
            }
        return facts

    # ------------------------------------------------------------ writing

    def _count_countries(self, session: Session, batch: Sequence[Scan], now: datetime) -> None:
        counts: dict[tuple[str, str, str], int] = defaultdict(int)
        for s in batch:
            if s.collection and s.brand_id and s.country and s.token_id is not None:
                counts[(s.collection, s.country, s.brand_id)] += 1
        for (collection, country, brand_id), n in counts.items():
            row = session.get(AlertCountry, (collection, country))
            if row is None:
                row = AlertCountry(collection=collection, country=country, brand_id=brand_id, scans=n, first_at=now)
                session.add(row)
            else:
                row.scans += n


def _subject(collection: str, token_id: int) -> str:
    return f"{collection}:{token_id}"


def _rows(session: Session, ids: list[int]) -> dict[int, Any]:
    """Whole `scans` rows by id (what an alert keeps of each scan)."""
    table = Scan.__table__  # type: ignore[attr-defined]
    found: dict[int, Any] = {}
    for i in range(0, len(ids), 500):
        found |= {
            row.id: row for row in session.execute(select(*table.columns).where(table.c.id.in_(ids[i : i + 500])))
        }
    return found
