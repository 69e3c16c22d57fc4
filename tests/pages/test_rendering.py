"""The page's pure parts: language negotiation, HTML-or-JSON negotiation, the script JSON that cannot
break out of its element, and the tap block the NFC flow fills in."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from markupsafe import escape

from api.routes.pages import render, wants_html
from registry.alerts.caution import Caution, sentences
from registry.pages.catalog import texts_for
from registry.pages.locale import negotiate
from registry.pages.schemas import CheckView, PageModel, TapView
from registry.pages.service import caution_view, script_json, tap_time


@pytest.mark.parametrize(
    ("header", "explicit", "expected"),
    [
        (None, None, "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", None, "zh-CN"),
        ("zh-TW", None, "zh-CN"),  # the only Chinese offered
        ("zh-Hans-CN", None, "zh-CN"),
        ("fr-FR,fr;q=0.9,zh;q=0.8,en;q=0.7", None, "zh-CN"),  # the best offered one, in the client's order
        ("en;q=0.5, zh;q=0.9", None, "zh-CN"),  # by q, not by position
        ("de, *;q=0.1", None, "en"),
        ("zh;q=0", None, "en"),  # q=0 means "not this one"
        ("zh;q=abc, en", None, "en"),  # malformed parts are skipped
        (";;,,", None, "en"),
        ("zh-CN", "en", "en"),  # ?lang= wins
        ("en", "zh-cn", "zh-CN"),
        ("en", "klingon", "en"),  # an unknown ?lang= is ignored
    ],
)
def test_language_negotiation(header: str | None, explicit: str | None, expected: str) -> None:
    assert negotiate(header, explicit) == expected


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),  # a browser
        ("*/*", False),  # curl
        ("", False),
        ("application/json", False),
        ("text/html;q=0.5, application/json", False),
        ("application/json;q=0.5, text/html", True),
        ("text/html;q=0", False),
    ],
)
def test_html_only_for_clients_that_ask_for_it(accept: str, html: bool) -> None:
    assert wants_html(accept) is html


def test_script_json_cannot_close_its_element() -> None:
    hostile = {"name": "</script><script>alert(1)</script><!--", "amp": "a&b"}
    text = script_json(hostile)
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == hostile


def _model(tap: TapView | None, name: str = "Sac") -> PageModel:
    check = CheckView(name="status", ok=True, title="t", explanation="e", detail="d")
    return PageModel(
        lang="en",
        texts=texts_for("en"),
        contract="0x" + "11" * 20,
        token_id=10001,
        found=True,
        name=name,
        authentic=True,
        verdict_lead="ok",
        checks=[check],
        status="active",
        tap=tap,
        config={"rpcUrl": "http://rpc", "gateway": "http://gw/ipfs", "registry": "0x" + "22" * 20},
    )


def test_the_tap_block_shows_a_fresh_genuine_tap_and_warns_otherwise() -> None:
    texts = texts_for("en")
    fresh = render(_model(TapView(kind="ntag424", genuine=True, fresh=True, counter=42)))
    assert texts["tap_ok"] in fresh and 'data-fresh="true"' in fresh and ": 42" in fresh
    replayed = render(_model(TapView(kind="ntag424", genuine=True, fresh=False, counter=41, detail="counter 41 <= 42")))
    assert texts["tap_not_fresh"] in replayed and texts["tap_ok"] not in replayed
    assert 'role="alert"' in replayed and "counter 41 &lt;= 42" in replayed  # escaped
    forged = render(_model(TapView(kind="halo", genuine=False, fresh=True)))
    assert str(escape(texts["tap_not_genuine"])) in forged  # its apostrophe is escaped
    assert texts["tap_heading"] not in render(_model(None))  # no tap, no bound tag: no block


def test_the_tap_block_prints_the_tap_time_and_says_why_a_ticket_shows_no_verdict() -> None:
    tapped = int(datetime(2026, 12, 6, 14, 2, 31, tzinfo=UTC).timestamp())
    assert tap_time(texts_for("en"), tapped, tapped + 12.9) == "Tapped 14:02:31 UTC, 12 s ago"
    assert tap_time(texts_for("zh-CN"), tapped, tapped + 12.9) == "14:02:31 UTC 感应\uff0c12 秒前"
    assert tap_time(texts_for("en"), tapped, tapped - 3) == "Tapped 14:02:31 UTC, 0 s ago"  # another server's clock
    texts = texts_for("en")
    for refusal, key in (("other-browser", "tap_other_browser"), ("expired", "tap_expired")):
        model = _model(None).model_copy(update={"tap_refusal": refusal})
        html = render(model)
        assert texts[key] in html and f'data-tap-refusal="{refusal}"' in html
        assert "data-genuine" not in html and texts["tap_ok"] not in html and texts["tap_waiting"] not in html
    shown = _model(TapView(kind="halo", genuine=True, fresh=True)).model_copy(
        update={"tap_time": "Tapped 14:02:31 UTC"}
    )
    assert 'id="tap-time">Tapped 14:02:31 UTC<' in render(shown)


def test_content_is_escaped() -> None:
    html = render(_model(None, name="<img src=x onerror=alert(1)>"))
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_service_history_adds_the_verdicts_latest_record_the_index_has_not_reached(tmp_path: Path) -> None:
    """The page lists service records from the index; a record made in the blocks the index has not
    reached yet (the verifier read them) is added once, never twice."""
    from sqlmodel import Session

    from registry.db.engine import make_engine, migrate
    from registry.events.models import ChainEvent
    from registry.ipfs.cid import CID, RAW
    from registry.pages.service import _service
    from registry.verify.schemas import ServiceRecordRef

    engine = make_engine(f"sqlite:///{tmp_path / 'index.db'}")
    migrate(engine)
    contract, token = "0x" + "ab" * 20, 10_001
    record = CID.of(b"an old service record", codec=RAW)
    old = ServiceRecordRef(
        provider="0x" + "11" * 20, record_cid=str(record), block_time="2026-01-02T00:00:00+00:00", tx_hash="0xaa"
    )
    new = ServiceRecordRef(
        provider="0x" + "22" * 20, record_cid="bafynew", block_time="2026-02-03T00:00:00+00:00", tx_hash="0xbb"
    )
    with Session(engine) as s:
        args = {"tokenId": token, "provider": old.provider, "recordCid": "0x" + record.to_bytes().hex()}
        s.add(
            ChainEvent(
                block_number=5,
                block_hash="0x05",
                tx_hash="0xaa",
                log_index=0,
                address=contract,
                name="ServiceRecorded",
                token_id=token,
                args=json.dumps(args),
                block_time=1767312000,
            )
        )
        s.commit()
        indexed_only = _service(s, None, contract, token, "https://g/ipfs", old)  # type: ignore[arg-type]
        with_latest = _service(s, None, contract, token, "https://g/ipfs", new)  # type: ignore[arg-type]
    engine.dispose()
    with Session(make_engine(f"sqlite:///{tmp_path / 'absent.db'}")) as s:  # no tables: a query would fail
        assert _service(s, None, contract, token, "https://g/ipfs", None) == []  # type: ignore[arg-type]
    assert [v.record_cid for v in indexed_only] == [old.record_cid]  # the index already has it: listed once
    assert [v.record_cid for v in with_latest][-1] == "bafynew" and len(with_latest) == len(indexed_only) + 1


def test_the_caution_block_says_what_was_seen_in_the_pages_language_and_never_fake() -> None:
    since = datetime(2026, 12, 6, 10, tzinfo=UTC)
    en, zh = sentences("anomaly", {"countries": ["FR", "JP", "US"], "hours": 2})
    caution = Caution("anomaly", en, zh, since)
    assert 'id="caution"' not in render(_model(None))  # no open alert: no block
    for lang, said in (("en", "This label was scanned in 3 countries within 2 hours."), ("zh-CN", zh)):
        model = _model(None).model_copy(update={"lang": lang, "texts": texts_for(lang)})
        model.caution = caution_view(caution, lang)
        html = render(model)
        block = html[html.index('id="caution"') : html.index("</div>", html.index('id="caution"'))]
        assert said in block and texts_for(lang)["caution_title"] in block and 'data-rule="anomaly"' in block
        assert "fake" not in block.lower() and "假" not in block
        assert 'data-authentic="true"' in html  # the verdict itself is untouched
    hostile = Caution("anomaly", "<script>x</script>", "<b>", since)
    assert "<script>x" not in render(_model(None).model_copy(update={"caution": caution_view(hostile, "en")}))
