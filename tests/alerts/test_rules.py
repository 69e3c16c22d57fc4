"""Each rule at its edge: the threshold met and one short of it, one buyer re-scanning, shared
networks (IPv4 and IPv6), clock skew, unknown locations. Pure functions: no database."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from registry.alerts import rules
from registry.alerts.policy import Policy
from registry.alerts.rules import Context, ScanFact, TwinState

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
C = "0x" + "ab" * 20
PARIS, NEW_YORK, LYON, TOKYO = (48.8566, 2.3522), (40.7128, -74.006), (45.764, 4.8357), (35.6762, 139.6503)


def scan(i: int, minutes_ago: float, **kw: Any) -> ScanFact:
    """A scan by its own visitor on its own network unless told otherwise."""
    values: dict[str, Any] = {"channel": "page", "arrival": "qr", "session": f"s{i}", "network": f"198.51.{i}.0/24"}
    values |= kw  # the caller's values win
    return ScanFact(id=i, at=NOW - timedelta(minutes=minutes_ago), **values)


def ctx(scans: list[ScanFact], *, new: set[int] | None = None, policy: Policy | None = None, **state: Any) -> Context:
    ordered = sorted(scans, key=lambda s: (s.at, s.id))
    return Context(
        state=TwinState(collection=C, token_id=10001, brand_id="b", **state),
        scans=ordered,
        new=frozenset(new if new is not None else {ordered[-1].id}),
        policy=policy or Policy(),
        now=NOW,
    )


def located(i: int, minutes_ago: float, place: tuple[float, float], country: str, **kw: Any) -> ScanFact:
    return scan(i, minutes_ago, latitude=place[0], longitude=place[1], country=country, **kw)


# ---------------------------------------------------------------- state rules


def test_stolen_burned_and_blacklisted_fire_on_any_new_scan_only() -> None:
    s = [scan(1, 5)]
    assert rules.stolen(ctx(s, status=2)) is not None
    assert rules.stolen(ctx(s, status=1)) is None  # lost is not stolen
    assert rules.stolen(ctx(s, status=2, new=set())) is None  # history alone never re-raises
    assert rules.burned_scanned(ctx(s, burned=True)) is not None
    assert rules.burned_scanned(ctx(s)) is None
    assert rules.blacklisted(ctx(s, compromised=True)) is not None
    assert rules.blacklisted(ctx(s, compromised=None)) is None  # unknown is not compromised


def test_counterfeit_is_an_invalid_tap_with_evidence_but_not_a_malformed_read() -> None:
    forged = scan(1, 1, channel="tap", tag_kind="halo", valid=False, evidence=json.dumps({"rnd": "00"}))
    assert rules.counterfeit(ctx([forged])) is not None
    malformed = replace(forged, evidence=json.dumps({"code": "malformed"}))
    assert rules.counterfeit(ctx([malformed])) is None
    assert rules.counterfeit(ctx([replace(forged, valid=True)])) is None
    assert rules.counterfeit(ctx([replace(forged, evidence=None)])) is None


def test_unknown_serial_lookups_need_the_threshold_and_two_crowds() -> None:
    p = Policy(unknown_serial_lookups=3, unknown_serial_crowds=2)
    one_buyer = [scan(i, i, channel="resolver", session="typo", network="203.0.113.0/24") for i in range(1, 6)]
    assert rules.unknown_serials(one_buyer, frozenset({1}), p, NOW) is None  # one person mistyping, many times
    two = [scan(1, 1, channel="resolver"), scan(2, 2, channel="resolver")]
    assert rules.unknown_serials(two, frozenset({1}), p, NOW) is None  # 2 < 3
    three = [*two, scan(3, 3, channel="resolver")]
    found = rules.unknown_serials(three, frozenset({1}), p, NOW)
    assert found is not None and found.facts["lookups"] == 3


# ---------------------------------------------------------------- calendar and markets


def test_off_market_counts_crowds_outside_the_markets_and_skips_unknown_countries() -> None:
    p = Policy(markets=["fr", "de"], off_market_crowds=2)
    at_home = [scan(1, 10, country="FR"), scan(2, 9, country=None), scan(3, 8, country="US")]
    assert rules.off_market(ctx(at_home, policy=p)) is None  # one crowd outside; unknown does not count
    assert rules.off_market(ctx([*at_home, scan(4, 1, country="CN")], policy=p)) is not None  # at 2
    # the same shop network seen from two sessions is one crowd
    shop = [scan(3, 8, country="US", network="203.0.113.0/24"), scan(4, 1, country="US", network="203.0.113.0/24")]
    assert rules.off_market(ctx(shop, policy=p)) is None
    assert rules.off_market(ctx(shop, policy=Policy())) is None  # no markets set: no rule


def test_sell_by_and_release_dates() -> None:
    p = Policy(sell_by=NOW - timedelta(days=1), released_at=NOW - timedelta(hours=1))
    assert rules.after_sell_by(ctx([scan(1, 5)], policy=p)) is not None
    assert rules.after_sell_by(ctx([scan(1, 5)], policy=p, sold=True)) is None  # a buyer's own scans
    assert rules.after_sell_by(ctx([scan(1, 60 * 24 * 2)], policy=p)) is None  # before the date
    assert rules.inactive(ctx([scan(1, 90)], policy=p)) is not None  # 90 min ago, released 60 min ago
    assert rules.inactive(ctx([scan(1, 30)], policy=p)) is None


def test_exceptional_country_needs_history() -> None:
    s = [scan(1, 2, country="BR"), scan(2, 1, country="BR")]
    known = frozenset({"FR", "DE"})
    assert rules.exceptional_country(replace(ctx(s), seen_countries=known, located_history=99)) is None
    found = rules.exceptional_country(replace(ctx(s), seen_countries=known, located_history=100))
    assert found is not None and found.facts["countries"] == ["BR"] and found.facts["people"] == 2
    fr = [scan(1, 2, country="FR"), scan(2, 1, country="FR")]
    assert rules.exceptional_country(replace(ctx(fr), seen_countries=known, located_history=500)) is None


def test_exceptional_country_leaves_one_buyer_abroad_alone() -> None:
    """The false alarm a small simulation showed: one genuine buyer abroad, in a country the collection
    had not seen, raised it on their first scan. One person is not evidence of goods in a new market,
    however many networks (a hotel's Wi-Fi, then a carrier) they scan from."""
    known = frozenset({"FR", "DE"})
    traveller = [
        scan(1, 60, country="BR", session="me", network="198.51.7.0/24"),  # the hotel
        scan(2, 30, country="BR", session="me", network="2001:db8:9::/48"),  # the carrier
        scan(3, 1, country="BR", session="me", network="203.0.113.0/24"),  # a café
    ]
    assert rules.exceptional_country(replace(ctx(traveller), seen_countries=known, located_history=10_000)) is None
    # a second person there, in a later batch (the country is still new to the collection): raised
    other = scan(4, 0, country="BR", session="them", network="192.0.2.0/24")
    found = rules.exceptional_country(replace(ctx([*traveller, other]), seen_countries=known, located_history=10_000))
    assert found is not None and found.facts["people"] == 2
    # two phones behind one shop's network are one crowd: not yet two people
    shop = [*traveller[:1], scan(5, 0, country="BR", session="them", network="198.51.7.0/24")]
    assert rules.exceptional_country(replace(ctx(shop), seen_countries=known, located_history=10_000)) is None


def test_off_market_needs_two_people_not_one_traveller_on_two_networks() -> None:
    p = Policy(markets=["FR"], off_market_crowds=2)
    hotel = scan(1, 120, country="US", session="traveller", network="198.51.7.0/24")
    carrier = scan(2, 1, country="US", session="traveller", network="2001:db8:9::/48")
    assert rules.off_market(ctx([hotel, carrier], policy=p)) is None  # two networks, one visitor
    other = scan(3, 0, country="CN", session="someone", network="203.0.113.0/24")
    found = rules.off_market(ctx([hotel, carrier, other], policy=p))
    assert found is not None and found.facts["people"] == 2 and found.facts["countries"] == ["CN", "US"]


def test_people_is_a_matching_of_visitors_to_networks() -> None:
    a1, a2 = scan(1, 3, session="a", network="n1"), scan(2, 2, session="a", network="n2")
    b1 = scan(3, 1, session="b", network="n1")
    assert rules.people([a1, a2], 5) == 1  # one visitor on two networks
    assert rules.people([a1, b1], 5) == 1  # two visitors on one network
    assert rules.people([a1, b1, a2], 5) == 2  # a on n2, b on n1: needs the augmenting path
    assert rules.people([scan(i, i) for i in range(1, 30)], 3) == 3  # counted up to what is needed


# ---------------------------------------------------------------- how many and how far


def test_scan_count_counts_visits_not_reloads() -> None:
    p = Policy(scan_count=5, rescan_minutes=30)
    buyer = [scan(i, 60 - i, session="me", network="203.0.113.0/24") for i in range(1, 40)]  # 39 reloads
    assert rules.scan_count(ctx(buyer, policy=p)) is None
    visits = [scan(i, i * 10) for i in range(1, 5)]
    assert rules.scan_count(ctx(visits, policy=p, new={1})) is None  # 4 < 5
    found = rules.scan_count(ctx([*visits, scan(9, 1)], policy=p, new={9}))
    assert found is not None and found.facts["visits"] == 5


def test_session_count_treats_one_network_as_one_crowd_ipv4_and_ipv6() -> None:
    p = Policy(session_count=3)
    campus = [scan(i, i, session=f"s{i}", network="2001:db8:42::/48") for i in range(1, 30)]
    assert rules.session_count(ctx(campus, policy=p, new={1})) is None
    office = [scan(i, i, session=f"s{i}", network="192.0.2.0/24") for i in range(1, 30)]
    assert rules.session_count(ctx(office, policy=p, new={1})) is None
    three = [scan(1, 1, network="2001:db8:1::/48"), scan(2, 2, network="2001:db8:2::/48"), scan(3, 3)]
    assert rules.session_count(ctx(three[:2], policy=p, new={1})) is None
    assert rules.session_count(ctx(three, policy=p, new={1})) is not None


def test_anomaly_counts_each_visitor_once() -> None:
    p = Policy(anomaly_countries=3, anomaly_hours=2, travel_unsold=True)
    vpn = [scan(i, i, session="me", network=f"198.51.{i}.0/24", country=c) for i, c in enumerate(["FR", "NL", "US"], 1)]
    assert rules.anomaly(ctx(vpn, policy=p, new={1})) is None  # one buyer hopping VPN exits
    three = [scan(1, 100, country="FR"), scan(2, 50, country="CN"), scan(3, 1, country="US")]
    found = rules.anomaly(ctx(three, policy=p))
    assert found is not None and found.facts["countries"] == ["CN", "FR", "US"]
    late = [scan(1, 130, country="FR"), scan(2, 50, country="CN"), scan(3, 1, country="US")]
    assert rules.anomaly(ctx(late, policy=p)) is None  # the first is outside the 2 hours


def test_travel_rules_leave_unsold_twins_alone_by_default() -> None:
    """Three tourists in one shop, their roaming phones located at home: not three places."""
    shop = [scan(1, 30, country="FR"), scan(2, 20, country="CN"), scan(3, 10, country="US")]
    assert rules.anomaly(ctx(shop)) is None
    assert rules.anomaly(ctx(shop, sold=True)) is not None
    far = [located(1, 10, PARIS, "FR"), located(2, 1, TOKYO, "JP")]
    assert rules.impossible_travel(ctx(far)) is None
    assert rules.impossible_travel(ctx(far, sold=True)) is not None
    assert rules.impossible_travel(ctx(far, policy=Policy(travel_unsold=True))) is not None


def test_impossible_travel_edges() -> None:
    p = Policy(travel_kmh=1000, travel_min_km=500, clock_skew_seconds=300, travel_unsold=True)
    # Paris -> New York (5,837 km) in 60 minutes by two people: impossible
    found = rules.impossible_travel(ctx([located(1, 61, PARIS, "FR"), located(2, 1, NEW_YORK, "US")], policy=p))
    assert found is not None and 5800 < found.facts["km"] < 5900
    # the same in 8 hours: a flight
    assert rules.impossible_travel(ctx([located(1, 481, PARIS, "FR"), located(2, 1, NEW_YORK, "US")], policy=p)) is None
    # Paris -> Lyon (392 km) in 1 minute: nearer than travel_min_km, IP locations are coarse
    assert rules.impossible_travel(ctx([located(1, 2, PARIS, "FR"), located(2, 1, LYON, "FR")], policy=p)) is None
    # one buyer's session (a VPN switching exits) is never a traveller
    me = [located(1, 3, PARIS, "FR", session="me"), located(2, 1, TOKYO, "JP", session="me")]
    assert rules.impossible_travel(ctx(me, policy=p)) is None
    # an unknown location between them is skipped, not a gap
    mid = [located(1, 30, PARIS, "FR"), scan(2, 20), located(3, 1, NEW_YORK, "US")]
    assert rules.impossible_travel(ctx(mid, policy=p)) is not None


def test_impossible_travel_tolerates_clock_skew() -> None:
    """Two servers' clocks a few minutes apart can put the second scan before the first: the skew is
    added to the gap, so scans 1,000 km apart minutes apart in either order are not a speed of infinity."""
    berlin_ish = (52.52, 13.405)
    stockholm_ish = (59.3293, 18.0686)  # ~810 km
    p = Policy(travel_kmh=1000, travel_min_km=500, clock_skew_seconds=3600, travel_unsold=True)
    skewed = [located(1, 1, berlin_ish, "DE"), located(2, 3, stockholm_ish, "SE")]  # recorded "before"
    assert rules.impossible_travel(ctx(skewed, policy=p, new={1, 2})) is None
    strict = p.model_copy(update={"clock_skew_seconds": 0})
    assert rules.impossible_travel(ctx(skewed, policy=strict, new={1, 2})) is not None


# ---------------------------------------------------------------- tags and labels


def tap(i: int, minutes_ago: float, counter: int, **kw: Any) -> ScanFact:
    values: dict[str, Any] = {
        "channel": "tap",
        "arrival": "nfc",
        "tag_kind": "ntag424",
        "tag_id": "04AABB",
        "valid": True,
    }
    return scan(i, minutes_ago, counter=counter, **(values | kw))


def test_nfc_counter_duplicate_and_regression_from_another_visitor() -> None:
    rising = [tap(1, 30, 5), tap(2, 20, 6), tap(3, 10, 7)]
    assert rules.nfc_counter(ctx(rising)) is None
    dup = rules.nfc_counter(ctx([*rising, tap(4, 1, 7)]))  # the second appearance of counter 7
    assert dup is not None and dup.facts["kind"] == "duplicate" and set(dup.scans) == {3, 4}
    reg = rules.nfc_counter(ctx([*rising, tap(4, 1, 2)], new={4}))  # an old tap's URL, played again
    assert reg is not None and reg.facts["kind"] == "regression"
    assert rules.nfc_counter(ctx([*rising, tap(4, 1, 8)], new={4})) is None  # the next genuine tap


def test_nfc_counter_ignores_a_reload_and_the_same_network() -> None:
    first = tap(1, 5, 9, session="me", network="203.0.113.0/24")
    reload = tap(2, 4, 9, session="me", network="203.0.113.0/24")
    assert rules.nfc_counter(ctx([first, reload])) is None
    laptop = tap(3, 3, 9, session="laptop", network="203.0.113.0/24")  # the buyer's other device at home
    assert rules.nfc_counter(ctx([first, laptop])) is None
    forged = tap(4, 1, 9, valid=False)
    assert rules.nfc_counter(ctx([first, forged])) is None  # a forged tap is counterfeit's, not a replay


def test_copied_label_needs_nfc_binding_crowds_and_no_tap() -> None:
    p = Policy(copied_label_crowds=3)
    qr = [scan(i, i * 60) for i in range(1, 4)]
    assert rules.copied_label(ctx(qr, policy=p, new={1})) is None  # not NFC-bound
    assert rules.copied_label(ctx(qr, policy=p, new={1}, nfc_bound=True)) is not None
    assert rules.copied_label(ctx(qr[:2], policy=p, new={1}, nfc_bound=True)) is None
    # the buyers tapped too (each tap stands for its own visitor's and network's QR scans)
    with_taps = [*qr, *(tap(10 + i, 30, i, session=f"s{i}", network=f"198.51.{i}.0/24") for i in range(1, 4))]
    assert rules.copied_label(ctx(with_taps, policy=p, new={1}, nfc_bound=True)) is None


def test_copied_label_is_not_silenced_by_one_tap_of_the_genuine_tag_elsewhere() -> None:
    """The attack: a counterfeiter holds the genuine item, taps its tag once at home (a valid tap), and
    sells copies of its label; the copies' buyers scan the QR in other cities. Before, any valid tap
    in the window silenced the rule for every copy."""
    p = Policy(copied_label_crowds=3)
    genuine_tap = located(1, 600, PARIS, "FR", channel="tap", tag_kind="ntag424", tag_id="04AA", counter=5, valid=True)
    copies = [
        located(2, 300, NEW_YORK, "US"),
        located(3, 200, TOKYO, "JP"),
        located(4, 100, NEW_YORK, "US", session="s4", network="203.0.113.0/24"),
    ]
    found = rules.copied_label(ctx([genuine_tap, *copies], policy=p, new={4}, nfc_bound=True))
    assert found is not None and found.facts["crowds"] == 3
    assert genuine_tap.id not in found.scans
    # the genuine item in a shop: shoppers in the same city scan its QR, one taps it: nothing to say
    shoppers = [located(10 + i, 50 - i, LYON, "FR") for i in range(5)]
    shop_tap = located(20, 40, LYON, "FR", channel="tap", tag_kind="ntag424", tag_id="04AA", counter=6, valid=True)
    assert rules.copied_label(ctx([*shoppers, shop_tap], policy=p, new={14}, nfc_bound=True)) is None
    # a forged tap vouches for nothing
    forged = replace(shop_tap, valid=False)
    assert rules.copied_label(ctx([*shoppers, forged], policy=p, new={14}, nfc_bound=True)) is not None


def test_tap_before_sale() -> None:
    p = Policy(unsold_tap_crowds=3)
    taps = [tap(1, 30, 1), tap(2, 20, 2), tap(3, 10, 3)]
    assert rules.tap_before_sale(ctx(taps, policy=p)) is not None
    assert rules.tap_before_sale(ctx(taps, policy=p, sold=True)) is None
    shop = [tap(i, 30 - i, i, network="192.0.2.0/24") for i in range(1, 10)]  # a shop's customers
    assert rules.tap_before_sale(ctx(shop, policy=p)) is None


def test_already_consumed_counts_crowds_after_the_claim() -> None:
    p = Policy(consumed_crowds=3)
    claim = NOW - timedelta(hours=5)
    before = [scan(i, 600 + i) for i in range(1, 5)]  # before the claim: not counted
    after = [scan(10, 100), scan(11, 50)]
    assert rules.already_consumed(ctx([*before, *after], policy=p, new={11}, claimed=True, claimed_at=claim)) is None
    found = rules.already_consumed(ctx([*before, *after, scan(12, 1)], policy=p, claimed=True, claimed_at=claim))
    assert found is not None and found.facts["crowds"] == 3
    assert rules.already_consumed(ctx([*after, scan(12, 1)], policy=p, claimed=False)) is None


def test_evaluate_honours_disabled_rules_and_resolutions() -> None:
    s = [scan(1, 5)]
    assert [f.rule for f in rules.evaluate(ctx(s, status=2))] == ["stolen"]
    assert rules.evaluate(ctx(s, status=2, policy=Policy(disabled=["stolen"]))) == []
    p = Policy(session_count=3)
    three = [scan(1, 60), scan(2, 50), scan(3, 1)]
    assert [f.rule for f in rules.evaluate(ctx(three, policy=p))] == ["session-count"]
    # resolved 30 minutes ago: only one crowd since, the old two no longer count
    assert rules.evaluate(ctx(three, policy=p), {"session-count": NOW - timedelta(minutes=30)}) == []
