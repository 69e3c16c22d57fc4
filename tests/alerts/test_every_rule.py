"""Every rule end to end on SQLite and PostgreSQL: scans stored, handed over as a batch, and exactly the
expected alert raised (no other rule firing on the same scans). Each case has its own twin; the
brand's thresholds are set per case."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from registry.alerts.policies import set_policy
from registry.alerts.service import AlertEngine
from registry.db.engine import session_scope
from registry.events.models import ChainEvent
from registry.nfc.models import NfcTag
from tests.alerts.conftest import A_COLLECTION, NOW, record, twin

PARIS, NEW_YORK = (48.8566, 2.3522), (40.7128, -74.006)
TAP = {"channel": "tap", "arrival": "nfc", "tag_kind": "ntag424", "tag_id": "04A1B2C3D4E5F6", "valid": True}


def by(i: int, minutes_ago: float, **kw: Any) -> dict[str, Any]:
    """A scan by its own visitor on its own network (IPv6 /48 for odd ones)."""
    network = f"2001:db8:{i}::/48" if i % 2 else f"198.51.{i}.0/24"
    return {"channel": "page", "arrival": "qr", "session": f"s{i}", "network": network, "minutes_ago": minutes_ago} | kw


CASES: list[tuple[str, dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = [
    # rule, twin state, brand policy, scans
    ("stolen", {"status": 2}, {}, [by(1, 1)]),
    ("burned-scanned", {"burned": True, "owner": None}, {}, [by(1, 1)]),
    ("counterfeit", {}, {}, [by(1, 1, **(TAP | {"valid": False, "evidence": json.dumps({"code": "forged"})}))]),
    ("off-market", {}, {"markets": ["FR"], "off_market_crowds": 2}, [by(1, 9, country="US"), by(2, 1, country="CN")]),
    ("after-sell-by", {}, {"sell_by": (NOW - timedelta(days=1)).isoformat()}, [by(1, 1)]),
    ("inactive", {}, {"released_at": (NOW + timedelta(days=1)).isoformat()}, [by(1, 1)]),
    ("anomaly", {"claimed": True}, {}, [by(1, 90, country="FR"), by(2, 60, country="JP"), by(3, 1, country="US")]),
    ("exceptional-country", {}, {"exceptional_min_history": 3}, [by(1, 2, country="BR"), by(2, 1, country="BR")]),
    ("scan-count", {}, {"scan_count": 3}, [by(1, 150, session="me"), by(1, 90, session="me"), by(1, 1, session="me")]),
    ("session-count", {}, {"session_count": 3}, [by(1, 30), by(2, 20), by(3, 1)]),
    ("nfc-counter", {"claimed": True}, {}, [by(1, 30, counter=7, **TAP), by(2, 1, counter=7, **TAP)]),
    (
        "impossible-travel",
        {"claimed": True},
        {},
        [
            by(1, 31, latitude=PARIS[0], longitude=PARIS[1], country="FR"),
            by(2, 1, latitude=NEW_YORK[0], longitude=NEW_YORK[1], country="US"),
        ],
    ),
    ("tap-before-sale", {}, {}, [by(1, 30, counter=1, **TAP), by(2, 20, counter=2, **TAP), by(3, 1, counter=3, **TAP)]),
    ("copied-label", {"nfc": True}, {"copied_label_crowds": 3}, [by(1, 30), by(2, 20), by(3, 1)]),
    ("already-consumed", {"claimed": True, "claimed_minutes_ago": 60}, {}, [by(1, 30), by(2, 20), by(3, 1)]),
]


def test_each_rule_raises_its_alert_and_no_other(db: Engine) -> None:
    engine = AlertEngine()
    for n, (rule, state, policy, rows) in enumerate(CASES):
        token = 50_001 + n
        state = dict(state)
        nfc, claimed_ago = state.pop("nfc", False), state.pop("claimed_minutes_ago", None)
        with session_scope(db) as s:
            s.add(twin(A_COLLECTION, "brand-a", token, **state))
            if nfc:
                identity = "04" + "00" * 6
                s.add(
                    NfcTag(
                        id=f"t{n}",
                        kind="ntag424",
                        identity=identity,
                        brand_id="brand-a",
                        collection=A_COLLECTION,
                        token_id=token,
                    )
                )
            if claimed_ago is not None:
                s.add(
                    ChainEvent(
                        block_number=n,
                        block_hash=f"0x{n:064x}",
                        tx_hash=f"0x{n:064x}",
                        log_index=0,
                        address=A_COLLECTION,
                        name="Claimed",
                        token_id=token,
                        args="{}",
                        block_time=int((NOW - timedelta(minutes=claimed_ago)).timestamp()),
                    )
                )
            if rule == "exceptional-country":  # a history of the collection in other countries, weeks ago
                history = record(
                    s, A_COLLECTION, "brand-a", [by(k, 500 + k, country="DE", token_id=token) for k in range(3)]
                )
                engine.process(s, history, now=NOW - timedelta(days=31))
            set_policy(s, "brand-a", "", policy)
        with session_scope(db) as s:
            scans = record(s, A_COLLECTION, "brand-a", [r | {"token_id": token} for r in rows])
            raised = engine.process(s, scans, now=NOW)
            assert [a.rule for a in raised] == [rule], (rule, [(a.rule, a.facts) for a in raised])
