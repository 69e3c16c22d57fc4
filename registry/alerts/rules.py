"""The rules: each a small pure function of one twin's recent scans, its state and the thresholds,
returning a finding (the scans that show it and the figures it saw) or None.

Who scanned is known only coarsely, and the rules count people that way:
- a *visitor* is a session (first-party cookie), else a network, else the scan itself: one buyer's
  re-scans, reloads and language switches are one visitor;
- a *crowd* is a network (IPv4 /24, IPv6 /48), else a session: the sessions behind one shop's Wi-Fi,
  one office or one carrier's NAT are one crowd, so a shared network never looks like many copies.
A rule that a genuine buyer could trip on their own (markets, a new country) counts *people*: scans
whose visitors all differ and whose networks all differ (`people`), so one traveller seen from a hotel's
Wi-Fi and a carrier is one, and so are two phones behind one shop's network.
Every rule fires only when one of the new scans takes part, so a batch never re-raises old history.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from registry.alerts.facts import STOLEN, Context, Finding, ScanFact, TwinState
from registry.alerts.policy import Policy

__all__ = [
    "STOLEN",
    "Context",
    "Finding",
    "ScanFact",
    "TwinState",
    "evaluate",
]  # the facts, as the rules' callers know them

Rule = Callable[[Context], Finding | None]


def _finding(rule: str, scans: Sequence[ScanFact], **facts: Any) -> Finding:
    return Finding(rule, tuple(sorted({s.id for s in scans})), facts)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 2)


def people(scans: Sequence[ScanFact], enough: int) -> int:
    """How many of `scans` can be picked with no two sharing a visitor or a network (a maximum matching
    of visitors to crowds), counted up to `enough`: the number of distinct people the scans prove."""
    crowds_of: dict[str, set[str]] = {}
    for s in scans:
        crowds_of.setdefault(s.visitor, set()).add(s.crowd)
    matched: dict[str, str] = {}  # crowd -> the visitor it is matched to

    def augment(visitor: str, seen: set[str]) -> bool:
        for crowd in crowds_of[visitor]:
            if crowd in seen:
                continue
            seen.add(crowd)
            if crowd not in matched or augment(matched[crowd], seen):
                matched[crowd] = visitor
                return True
        return False

    count = 0
    for visitor in crowds_of:
        if count >= enough:
            break
        count += augment(visitor, set())
    return count


# ---------------------------------------------------------------- the twin's state


def blacklisted(ctx: Context) -> Finding | None:
    """A scan of a twin minted while its brand's keys were compromised (the brand's revocation)."""
    new = [s for s in ctx.scans if s.id in ctx.new]
    return _finding("blacklisted", new) if ctx.state.compromised and new else None


def stolen(ctx: Context) -> Finding | None:
    """A scan or tap of a twin its owner reported stolen."""
    new = [s for s in ctx.scans if s.id in ctx.new]
    return _finding("stolen", new, taps=sum(s.tap for s in new)) if ctx.state.status == STOLEN and new else None


def burned_scanned(ctx: Context) -> Finding | None:
    """A scan of a twin whose token was burned: the item it stood for was retired."""
    new = [s for s in ctx.scans if s.id in ctx.new]
    return _finding("burned-scanned", new) if ctx.state.burned and new else None


def counterfeit(ctx: Context) -> Finding | None:
    """A tap whose cryptogram or signature did not check (a malformed read is not a forgery)."""
    bad = [s for s in ctx.scans if s.tap and s.valid is False and s.evidence and s.evidence_code() != "malformed"]
    return _finding("counterfeit", bad, taps=len(bad)) if ctx.fresh(bad) else None


# ---------------------------------------------------------------- the brand's calendar and markets


def off_market(ctx: Context) -> Finding | None:
    """Scans outside the collection's intended markets by several people (distinct visitors on distinct
    networks: a buyer travelling abroad, seen from a hotel and a carrier, is one)."""
    markets = set(ctx.policy.markets)
    if not markets:
        return None
    outside = [s for s in ctx.recent(ctx.policy.off_market_days * 24) if s.country and s.country not in markets]
    if not ctx.fresh(outside):
        return None
    seen = people(outside, ctx.policy.off_market_crowds)
    if seen < ctx.policy.off_market_crowds:
        return None
    countries = sorted({s.country for s in outside if s.country})
    return _finding("off-market", outside, crowds=len({s.crowd for s in outside}), people=seen, countries=countries)


def after_sell_by(ctx: Context) -> Finding | None:
    """Scans of a twin still unsold after the collection's sell-by date: stock still in the channel."""
    sell_by = ctx.policy.sell_by
    if sell_by is None or ctx.state.sold:
        return None
    late = [s for s in ctx.scans if s.at > sell_by]
    return _finding("after-sell-by", late, sell_by=sell_by.date().isoformat()) if ctx.fresh(late) else None


def inactive(ctx: Context) -> Finding | None:
    """Scans before the collection's release date: goods seen before they were let out."""
    released = ctx.policy.released_at
    if released is None:
        return None
    early = [s for s in ctx.scans if s.at < released]
    return _finding("inactive", early, released_at=released.date().isoformat()) if ctx.fresh(early) else None


def exceptional_country(ctx: Context) -> Finding | None:
    """A country new to the collection, scanned by several people. `seen_countries` and
    `located_history` are the collection's established countries and their scans (known before the
    window, `registry.alerts.service`): a young collection has no history to compare with, and a
    country stays new for the window, so a second buyer there, in a later batch, still counts. One
    buyer abroad (however many networks) is one person, never enough."""
    if ctx.located_history < ctx.policy.exceptional_min_history:
        return None
    novel: dict[str, list[ScanFact]] = {}
    for s in ctx.recent(ctx.policy.exceptional_days * 24):
        if s.country and s.country not in ctx.seen_countries:
            novel.setdefault(s.country, []).append(s)
    need = ctx.policy.exceptional_visitors
    shown = {c: scans for c, scans in novel.items() if ctx.fresh(scans) and people(scans, need) >= need}
    if not shown:
        return None
    scans = [s for group in shown.values() for s in group]
    return _finding("exceptional-country", scans, countries=sorted(shown), people=people(scans, 50))


# ---------------------------------------------------------------- how many and how far


def _visits(scans: Sequence[ScanFact], gap: timedelta) -> list[ScanFact]:
    """The scans that open a visit: a visitor's next scan within `gap` of their previous one is the same visit."""
    last: dict[str, datetime] = {}
    opened = []
    for s in scans:
        previous = last.get(s.visitor)
        if previous is None or s.at - previous > gap:
            opened.append(s)
        last[s.visitor] = s.at
    return opened


def scan_count(ctx: Context) -> Finding | None:
    window = ctx.recent(ctx.policy.scan_count_hours)
    visits = _visits(window, timedelta(minutes=ctx.policy.rescan_minutes))
    if len(visits) < ctx.policy.scan_count or not ctx.fresh(window):
        return None
    return _finding("scan-count", visits, visits=len(visits), hours=ctx.policy.scan_count_hours)


def session_count(ctx: Context) -> Finding | None:
    window = ctx.recent(ctx.policy.session_count_hours)
    crowds = {s.crowd for s in window}
    if len(crowds) < ctx.policy.session_count or not ctx.fresh(window):
        return None
    return _finding("session-count", window, crowds=len(crowds), hours=ctx.policy.session_count_hours)


def anomaly(ctx: Context) -> Finding | None:
    """Scans too far apart in too little time: as many countries as the threshold within the window,
    each visitor counted in the first country they scanned from (a buyer's VPN hopping is one visitor).
    Only for twins claimed or sold, unless the policy says otherwise (`travel_unsold`)."""
    if not (ctx.state.sold or ctx.policy.travel_unsold):
        return None
    window = ctx.recent(ctx.policy.anomaly_hours)
    first: dict[str, ScanFact] = {}
    for s in window:
        if s.country:
            first.setdefault(s.visitor, s)
    by_country: dict[str, ScanFact] = {}
    for s in first.values():
        by_country.setdefault(s.country or "", s)
    if len(by_country) < ctx.policy.anomaly_countries or not ctx.fresh(window):
        return None
    shown = list(by_country.values())
    span = max(s.at for s in shown) - min(s.at for s in shown)
    return _finding("anomaly", shown, countries=sorted(by_country), hours=max(_hours(span), 0.01))


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance on the mean Earth radius."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _km(a: ScanFact, b: ScanFact) -> float:
    assert a.latitude is not None and a.longitude is not None and b.latitude is not None and b.longitude is not None
    return haversine_km(a.latitude, a.longitude, b.latitude, b.longitude)


def impossible_travel(ctx: Context) -> Finding | None:
    """Two consecutive located scans by different visitors on different networks, farther apart than
    anyone could travel in the time between them (plus the clock skew allowed). Unknown locations are
    skipped; nearby ones never count (an IP's location is a city's at best). Like `anomaly`, only for
    twins claimed or sold unless the policy says otherwise."""
    if not (ctx.state.sold or ctx.policy.travel_unsold):
        return None
    located = [s for s in ctx.recent(ctx.policy.off_market_days * 24) if s.located]
    skew = ctx.policy.clock_skew_seconds
    worst: tuple[float, ScanFact, ScanFact, float] | None = None
    for a, b in itertools.pairwise(located):
        if a.visitor == b.visitor or (a.network and a.network == b.network):
            continue
        if a.id not in ctx.new and b.id not in ctx.new:
            continue
        km = _km(a, b)
        if km < ctx.policy.travel_min_km:
            continue
        kmh = km / ((abs((b.at - a.at).total_seconds()) + skew + 1) / 3600)
        if kmh > ctx.policy.travel_kmh and (worst is None or kmh > worst[0]):
            worst = (kmh, a, b, km)
    if worst is None:
        return None
    kmh, a, b, km = worst
    minutes = round(abs((b.at - a.at).total_seconds()) / 60, 1)
    return _finding("impossible-travel", [a, b], km=round(km), minutes=minutes, kmh=round(kmh))


# ---------------------------------------------------------------- tags and labels


def nfc_counter(ctx: Context) -> Finding | None:
    """A genuine tag's counter only rises. A valid tap whose counter was already seen (or a higher one
    was) from another visitor on another network is a recorded tap played again: a cloned tag or a
    copied tap URL. The same visitor or network reloading its own tap is not."""
    taps = [s for s in ctx.scans if s.tap and s.valid and s.counter is not None and s.tag_id]
    hits: list[ScanFact] = []
    kind = ""
    for i, s in enumerate(taps):
        if s.id not in ctx.new:
            continue
        assert s.counter is not None
        for earlier in taps[:i]:
            assert earlier.counter is not None
            if earlier.tag_id != s.tag_id or earlier.counter < s.counter:
                continue
            if earlier.visitor == s.visitor or (s.network and earlier.network == s.network):
                continue
            hits += [earlier, s]
            kind = kind or ("duplicate" if earlier.counter == s.counter else "regression")
    if not hits:
        return None
    counters = sorted({s.counter for s in hits if s.counter is not None})
    return _finding("nfc-counter", hits, kind=kind, counters=counters)


def _voucher(taps: Sequence[ScanFact], km: float) -> Callable[[ScanFact], bool]:
    """Whether a valid tap stands for a QR scan: the same visitor or network, or near it (with the
    default country-only locations, the same country). Coarse places repeat: each is measured once."""
    visitors, crowds = {t.visitor for t in taps}, {t.crowd for t in taps}
    places = {(t.latitude, t.longitude) for t in taps if t.located}

    def vouched(scan: ScanFact) -> bool:
        if scan.visitor in visitors or scan.crowd in crowds:
            return True
        if scan.latitude is None or scan.longitude is None:
            return False
        lat, lon = scan.latitude, scan.longitude
        return any(haversine_km(lat, lon, a, b) <= km for a, b in places if a is not None and b is not None)

    return vouched


def copied_label(ctx: Context) -> Finding | None:
    """Many crowds scanning the printed code of an NFC-bound twin without tapping it: the label was
    likely photocopied onto goods without the tag. A valid tap shows the genuine item only where it was
    made: it vouches for the QR scans of its own visitor or network, or within `copied_label_km` of it,
    so a counterfeiter tapping the genuine tag once does not silence the copies scanned elsewhere."""
    if not ctx.state.nfc_bound:
        return None
    window = ctx.recent(ctx.policy.copied_label_days * 24)
    vouched = _voucher([s for s in window if s.tap and s.valid], ctx.policy.copied_label_km)
    qr = [s for s in window if s.qr and not vouched(s)]
    crowds = {s.crowd for s in qr}
    if len(crowds) < ctx.policy.copied_label_crowds or not ctx.fresh(qr):
        return None
    return _finding("copied-label", qr, crowds=len(crowds), days=ctx.policy.copied_label_days)


def tap_before_sale(ctx: Context) -> Finding | None:
    """Genuine taps of a twin still in its brand's custody (neither claimed nor sold) by several crowds:
    the goods are in hands they should not be in yet. One shop's customers are one crowd."""
    if ctx.state.sold:
        return None
    taps = [s for s in ctx.recent(ctx.policy.unsold_tap_days * 24) if s.tap and s.valid]
    crowds = {s.crowd for s in taps}
    if len(crowds) < ctx.policy.unsold_tap_crowds or not ctx.fresh(taps):
        return None
    return _finding("tap-before-sale", taps, crowds=len(crowds))


def already_consumed(ctx: Context) -> Finding | None:
    """A claimed twin whose label keeps drawing new crowds after the claim, as if it were for sale again:
    its label (or a copy) is on other goods. The claimant's own network counts once."""
    claimed_at = ctx.state.claimed_at
    if not ctx.state.claimed or claimed_at is None:
        return None
    since = max(claimed_at, ctx.now - timedelta(days=ctx.policy.consumed_days))
    after = [s for s in ctx.scans if s.at > since]
    crowds = {s.crowd for s in after}
    if len(crowds) < ctx.policy.consumed_crowds or not ctx.fresh(after):
        return None
    return _finding("already-consumed", after, crowds=len(crowds), days=ctx.policy.consumed_days)


TWIN_RULES: dict[str, Rule] = {
    "blacklisted": blacklisted,
    "stolen": stolen,
    "burned-scanned": burned_scanned,
    "counterfeit": counterfeit,
    "off-market": off_market,
    "after-sell-by": after_sell_by,
    "inactive": inactive,
    "exceptional-country": exceptional_country,
    "scan-count": scan_count,
    "session-count": session_count,
    "anomaly": anomaly,
    "impossible-travel": impossible_travel,
    "nfc-counter": nfc_counter,
    "copied-label": copied_label,
    "tap-before-sale": tap_before_sale,
    "already-consumed": already_consumed,
}


def evaluate(ctx: Context, cleared: Mapping[str, datetime] | None = None) -> list[Finding]:
    """Every enabled rule's finding for this twin. `cleared`: when the brand last resolved an alert of
    a rule on this twin; only later scans count for it again (a counter is still compared with every
    earlier tap: a replay of an old tap is news whenever it comes)."""
    found = []
    for name, rule in TWIN_RULES.items():
        if not ctx.policy.on(name):
            continue
        since = (cleared or {}).get(name)
        if since is not None and name != "nfc-counter":
            finding = rule(replace(ctx, scans=[s for s in ctx.scans if s.at > since]))
        else:
            finding = rule(ctx)
        if finding is not None:
            found.append(finding)
    return found


def unknown_serials(scans: Sequence[ScanFact], new: frozenset[int], policy: Policy, now: datetime) -> Finding | None:
    """Lookups of serials no twin has, under a brand's GTINs (a `scans` row with a brand and no token):
    counterfeit labels printed with invented serials. A buyer mistyping a link is one crowd; the
    defaults (10 lookups from 3 crowds a day) leave room for a large brand's everyday typos."""
    if not policy.on("counterfeit"):
        return None
    since = now - timedelta(hours=policy.unknown_serial_hours)
    window = [s for s in scans if s.at >= since]
    crowds = {s.crowd for s in window}
    if len(window) < policy.unknown_serial_lookups or len(crowds) < policy.unknown_serial_crowds:
        return None
    if not any(s.id in new for s in window):
        return None
    return _finding("counterfeit", window, lookups=len(window), crowds=len(crowds))
