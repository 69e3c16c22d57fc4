# ruff: noqa: RUF001  (Chinese text takes full-width punctuation)
"""The caution a twin's public verdict carries while an alert on it is open: what was seen, said
plainly in both languages, never that the item is fake (a genuine item's label can be copied; its
owner may be the one travelling). The brand clears it by resolving the alert."""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from registry.alerts.models import Alert
from registry.alerts.schemas import CautionOut
from registry.alerts.state import aware

# How long a process serves its copy of the open cautions before reading them again: the bound on how
# late a caution raised, or cleared, by another process shows on this one's pages and verify answers
# (this process's own alert worker and resolve route refresh it at once).
CAUTION_TTL = 5.0
# A change read again this long after the newest one seen: a batch's alerts are stamped when written and
# committed a moment later (a large batch: seconds), so an older stamp can land after a newer one.
OVERLAP = 120.0
# A whole read this often all the same: the backstop for a commit later than OVERLAP, or a clock further off.
WHOLE_EVERY = 600.0

# Rules whose finding a buyer should hear about, most telling first. The others (markets, sell-by and
# release dates, a new country, taps before sale) are the brand's commercial business, not the buyer's.
PUBLIC = (
    "stolen",
    "blacklisted",
    "burned-scanned",
    "nfc-counter",
    "counterfeit",
    "copied-label",
    "impossible-travel",
    "anomaly",
    "already-consumed",
    "session-count",
    "scan-count",
)


@dataclass(frozen=True)
class Caution:
    rule: str
    en: str
    zh: str
    since: datetime
    encoded: bytes = field(default=b"", compare=False)  # the `caution` member of a verify answer, encoded once

    def text(self, language: str) -> str:
        return self.zh if language.lower().startswith("zh") else self.en  # the page's is `zh-CN`


def _n(value: Any, one: str, many: str) -> str:
    return f"{value} {one if value == 1 else many}"


def _time(hours: float) -> tuple[str, str]:
    if hours < 1:
        minutes = max(1, round(hours * 60))
        return _n(minutes, "minute", "minutes"), f"{minutes} 分钟"
    rounded = round(hours) if hours >= 2 else round(hours, 1)
    return _n(rounded, "hour", "hours"), f"{rounded} 小时"


def sentences(rule: str, facts: dict[str, Any]) -> tuple[str, str]:
    """(English, Chinese) for what the rule saw."""
    if rule == "stolen":
        return "Its owner reported this item stolen.", "该物品的所有者已报告其被盗。"
    if rule == "blacklisted":
        return (
            "This item was registered while its brand's keys were reported compromised.",
            "该物品登记时，其品牌的密钥已被报告泄露。",
        )
    if rule == "burned-scanned":
        return (
            "The brand retired this item's record, yet its label is still being scanned.",
            "品牌已注销该物品的记录，但其标签仍在被扫描。",
        )
    if rule == "nfc-counter":
        return (
            "This item's tag answered with a code it had already given: the same tap was seen twice.",
            "该物品的芯片给出了已出现过的验证码：同一次触碰被看到了两次。",
        )
    if rule == "counterfeit":
        return (
            "A tap on this item's page did not carry a valid tag signature.",
            "该物品页面上的一次触碰没有有效的芯片签名。",
        )
    if rule == "copied-label":
        crowds = facts.get("crowds", 0)
        return (
            f"This label was scanned from {crowds} different places without its tag being tapped.",
            f"该标签在 {crowds} 个不同地点被扫描，但其芯片从未被触碰。",
        )
    if rule == "impossible-travel":
        km = facts.get("km", 0)
        en_t, zh_t = _time(float(facts.get("minutes", 0)) / 60)
        return (
            f"This label was scanned {km} km apart within {en_t}.",
            f"该标签在 {zh_t}内于相距 {km} 公里的两地被扫描。",
        )
    if rule == "anomaly":
        count = len(facts.get("countries", []))
        en_t, zh_t = _time(float(facts.get("hours", 0)))
        return (
            f"This label was scanned in {count} countries within {en_t}.",
            f"该标签在 {zh_t}内于 {count} 个国家被扫描。",
        )
    if rule == "already-consumed":
        crowds = facts.get("crowds", 0)
        return (
            f"This item was already claimed by its owner, and its label was since scanned from {crowds} places.",
            f"该物品已被其所有者认领，此后其标签又在 {crowds} 个地点被扫描。",
        )
    if rule == "session-count":
        crowds = facts.get("crowds", 0)
        en_t, zh_t = _time(float(facts.get("hours", 24)))
        return (
            f"This label was scanned from {crowds} different places within {en_t}.",
            f"该标签在 {zh_t}内从 {crowds} 个不同地点被扫描。",
        )
    if rule == "scan-count":
        visits = facts.get("visits", 0)
        en_t, zh_t = _time(float(facts.get("hours", 24)))
        return f"This label was scanned {visits} times within {en_t}.", f"该标签在 {zh_t}内被扫描了 {visits} 次。"
    return "Unusual scans of this label were reported to its brand.", "该标签的异常扫描已报告给品牌。"


def caution_for(session: Session, collection: str, token_id: int) -> Caution | None:
    """The caution of the twin's most telling open public alert, or None (no open alert, or only the
    brand's commercial ones)."""
    rows = session.exec(
        select(Alert).where(
            Alert.collection == collection,
            Alert.token_id == token_id,
            Alert.state == "open",
            col(Alert.rule).in_(PUBLIC),
        )
    ).all()
    if not rows:
        return None
    return _most_telling(rows)


def _most_telling(rows: Sequence[Alert]) -> Caution:
    alert = min(rows, key=lambda a: (PUBLIC.index(a.rule), a.raised_at))
    return _caution(alert.rule, alert.facts, alert.raised_at)


def _caution(rule: str, facts: str, raised_at: datetime) -> Caution:
    en, zh = sentences(rule, json.loads(facts))
    since = raised_at if raised_at.tzinfo else raised_at.replace(tzinfo=UTC)  # SQLite: naive UTC
    body = CautionOut(rule=rule, en=en, zh=zh, since=since).model_dump_json().encode()
    return Caution(rule, en, zh, since, body)


class CautionBoard:
    """This process's copy of every open public caution, so the page and `/v1/verify` look one up
    without a database query. Refreshed when older than `ttl`, or at once after `invalidate` (the alert
    worker after raising, the resolve route after its commit), by reading only the public alerts changed
    since the last read (`updated_at`, indexed; every change to an alert sets it): a raised alert is
    added, a resolved one dropped. Each read reaches `overlap` seconds before the previous one began,
    for a write stamped before that but committed after (and clocks a little apart); a whole read every
    `whole_every` seconds is the backstop for anything slower.
    Keyed by the collection in lower case, so a lookup needs no checksum."""

    def __init__(
        self, engine: Engine, ttl: float = CAUTION_TTL, *, overlap: float = OVERLAP, whole_every: float = WHOLE_EVERY
    ) -> None:
        self.engine, self.ttl, self.overlap, self.whole_every = engine, ttl, timedelta(seconds=overlap), whole_every
        self._cautions: dict[tuple[str, int], Caution] = {}
        self._open: dict[int, Any] = {}  # alert id -> its row, every open public alert
        self._made: dict[tuple[int, datetime], Caution] = {}
        self._seen: datetime | None = None  # when the last read began (or the newest `updated_at` it saw)
        self._whole_at = float("-inf")  # monotonic time of the last whole read
        self._read_at = float("-inf")  # monotonic time of the last complete read
        self._generation = 0  # bumped by invalidate: a read begun before it does not count as fresh
        self._lock = threading.Lock()  # one reader at a time; lookups never wait on it
        self.reads = {"whole": 0, "changes": 0, "rows": 0}  # what the reads cost, for tests and status

    def fresh(self) -> bool:
        return time.monotonic() - self._read_at < self.ttl

    def invalidate(self) -> None:
        self._generation += 1
        self._read_at = float("-inf")

    def refresh(self) -> None:
        """Reads what changed since the last read (or everything, first and every `whole_every` s),
        unless a concurrent reader just did."""
        with self._lock:
            if self.fresh():
                return
            generation, started, wall = self._generation, time.monotonic(), datetime.now(UTC)
            whole = self._seen is None or started - self._whole_at >= self.whole_every
            columns = (Alert.id, Alert.updated_at, Alert.state, Alert.collection, Alert.token_id, Alert.rule)
            query = sa_select(*(col(c) for c in columns), col(Alert.raised_at), col(Alert.facts)).where(
                col(Alert.rule).in_(PUBLIC), col(Alert.token_id).is_not(None)
            )
            if whole:
                query = query.where(col(Alert.state) == "open")
            else:
                assert self._seen is not None
                query = query.where(col(Alert.updated_at) >= self._seen - self.overlap)
            with Session(self.engine) as s:
                rows = s.execute(query).all()
            self.reads["whole" if whole else "changes"] += 1
            self.reads["rows"] += len(rows)
            if whole:
                self._open, self._whole_at = {}, started
            # The next read starts from this one's start (or a newer stamp, a clock ahead), less the overlap.
            newest = max([wall, *(aware(r.updated_at) for r in rows)])
            self._seen = newest if self._seen is None else max(self._seen, newest)
            for row in rows:
                if row.state == "open":
                    self._open[row.id] = row
                else:
                    self._open.pop(row.id, None)
            self._rebuild()
            if generation == self._generation:
                self._read_at = started

    def _rebuild(self) -> None:
        best: dict[tuple[str, int], Any] = {}  # the most telling open alert of each twin
        for row in self._open.values():
            key = (row.collection.lower(), row.token_id)
            held = best.get(key)
            if held is None or (PUBLIC.index(row.rule), row.raised_at) < (PUBLIC.index(held.rule), held.raised_at):
                best[key] = row
        # Sentences and JSON are made once per alert version, not at every read.
        made = {}
        for r in best.values():
            version = (r.id, r.updated_at)
            made[version] = self._made.get(version) or _caution(r.rule, r.facts, r.raised_at)
        self._made = made
        self._cautions = {key: made[(r.id, r.updated_at)] for key, r in best.items()}

    def peek(self, collection: str, token_id: int) -> Caution | None:
        """From the copy as it is (no I/O: safe on the event loop)."""
        return self._cautions.get((collection.lower(), token_id))

    def get(self, collection: str, token_id: int) -> Caution | None:
        """Refreshed first when stale (then one query), else from the copy."""
        if not self.fresh():
            self.refresh()
        return self.peek(collection, token_id)


_boards: weakref.WeakKeyDictionary[Engine, CautionBoard] = weakref.WeakKeyDictionary()
_boards_lock = threading.Lock()


def board_for(engine: Engine) -> CautionBoard:
    """The one board of a database in this process (the routes, the worker and the resolve route share it)."""
    with _boards_lock:
        board = _boards.get(engine)
        if board is None:
            board = _boards[engine] = CautionBoard(engine)
        return board
