"""`fold`: what one chain event does to a twin's indexed state, and why replaying a history in one go
(`apply_state`, rebuilds and reorgs) ends where the indexer's event-by-event path (`project`) ends."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from registry.db.engine import make_engine, migrate, session_scope
from registry.events.models import ChainEvent
from registry.indexer.projection import apply_state, document_reader, project
from registry.ipfs.cid import CID
from registry.ipfs.store import LocalBlockStore, add_bytes
from registry.ipfs.unixfs import import_bytes
from registry.twins.models import Twin
from registry.twins.projection import fold

ZERO = "0x" + "00" * 20
CUSTODIAN = "0x1000000000000000000000000000000000000001"
HOLDERS = ["0x2000000000000000000000000000000000000002", "0x3000000000000000000000000000000000000003"]
BRAND = "0x4000000000000000000000000000000000000004"


def _hex(cid: CID) -> str:
    """The binary CID as the ContentUpdated event carries it."""
    return "0x" + cid.to_bytes().hex()


@pytest.fixture
def store(tmp_path: Path) -> LocalBlockStore:
    return LocalBlockStore(tmp_path / "blocks")


# ---------------------------------------------------------------- single events


def test_the_mint_transfer_changes_nothing(store: LocalBlockStore) -> None:
    """The mint's Transfer from zero leaves the twin with its custodian: no fields to set."""
    assert fold("Transfer", {"from": ZERO, "to": CUSTODIAN, "tokenId": 10_001}, document_reader(store)) == {}


def test_a_transfer_sets_the_owner(store: LocalBlockStore) -> None:
    """Any other transfer makes its recipient the owner since the block's time (and says nothing about
    burn or claim); with no block time known, since when is unknown, not the former owner's."""
    args = {"from": CUSTODIAN, "to": HOLDERS[0], "tokenId": 10_001}
    assert fold("Transfer", args, document_reader(store), 1_700_000_000) == {
        "owner": HOLDERS[0],
        "owner_since": 1_700_000_000,
    }
    assert fold("Transfer", args, document_reader(store)) == {"owner": HOLDERS[0], "owner_since": None}


def test_a_burn_clears_the_owner(store: LocalBlockStore) -> None:
    """A transfer to zero is a burn: no owner, burned."""
    changes = fold("Transfer", {"from": HOLDERS[0], "to": ZERO, "tokenId": 10_001}, document_reader(store))
    assert changes == {"owner": None, "burned": True, "owner_since": None}


def test_a_service_record_sets_when_the_twin_was_last_serviced(store: LocalBlockStore) -> None:
    args = {"tokenId": 10_001, "provider": CUSTODIAN, "recordCid": b"x"}
    assert fold("ServiceRecorded", args, document_reader(store), 1_700_000_000) == {"last_serviced_at": 1_700_000_000}


def test_claim_and_status(store: LocalBlockStore) -> None:
    """Claimed marks the twin claimed; StatusChanged sets the status code."""
    read = document_reader(store)
    assert fold("Claimed", {"tokenId": 10_001}, read) == {"claimed": True}
    for status in (2, 0, 1):
        assert fold("StatusChanged", {"tokenId": 10_001, "status": status, "by": BRAND}, read) == {"status": status}


def test_a_readable_content_update_sets_cid_uri_document_and_name(store: LocalBlockStore) -> None:
    """ContentUpdated whose document the store holds: CID, ipfs:// URI, the document text and its name."""
    document = json.dumps({"name": "Sac Iconique (repaired)", "description": "new handle"}).encode()
    cid = add_bytes(store, document).cid
    changes = fold("ContentUpdated", {"tokenId": 10_001, "cid": _hex(cid), "by": BRAND}, document_reader(store))
    assert changes == {
        "metadata_cid": str(cid),
        "token_uri": f"ipfs://{cid}",
        "metadata_json": document.decode(),
        "name": "Sac Iconique (repaired)",
    }


def test_a_nameless_document_sets_an_empty_name(store: LocalBlockStore) -> None:
    """A document without a name gives the empty name rather than keeping the old one."""
    cid = add_bytes(store, b'{"description": "no name here"}').cid
    changes = fold("ContentUpdated", {"tokenId": 1, "cid": _hex(cid), "by": BRAND}, document_reader(store))
    assert changes["name"] == "" and changes["metadata_cid"] == str(cid)


def test_an_unreadable_content_update_sets_only_the_cid_fields(store: LocalBlockStore) -> None:
    """When the reader returns None (content not in the store), only CID and URI change."""
    absent = import_bytes(b'{"name": "never stored"}').cid
    read = document_reader(store)
    assert read(str(absent)) is None
    changes = fold("ContentUpdated", {"tokenId": 1, "cid": _hex(absent), "by": BRAND}, read)
    assert changes == {"metadata_cid": str(absent), "token_uri": f"ipfs://{absent}"}


def test_the_reader_is_asked_for_the_cid_text(store: LocalBlockStore) -> None:
    """The binary CID from the event reaches the reader as its text form (the one the store parses)."""
    cid = add_bytes(store, b'{"name": "x"}').cid
    asked: list[str] = []

    def read(text: str) -> bytes | None:
        asked.append(text)
        return document_reader(store)(text)

    fold("ContentUpdated", {"tokenId": 1, "cid": _hex(cid), "by": BRAND}, read)
    assert asked == [str(cid)] and str(cid).startswith("b")


@pytest.mark.parametrize(
    "name", ["BatchMinted", "ServiceRecorded", "TwinLinked", "MetadataUpdate", "Approval", "BrandRegistered"]
)
def test_other_events_change_nothing(name: str, store: LocalBlockStore) -> None:
    """Events that do not touch owner, status, claim, burn or content fold to nothing."""
    args = {"tokenId": 10_001, "from": CUSTODIAN, "to": ZERO, "status": 2, "cid": "0x"}
    assert fold(name, args, document_reader(store)) == {}


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n\x00\x00", b"not json", b'["a", "list"]'])
def test_content_that_is_not_a_json_object_does_not_break_the_fold(content: bytes, store: LocalBlockStore) -> None:
    """A content update whose bytes are no JSON object still records the new CID."""
    cid = add_bytes(store, content).cid
    changes = fold("ContentUpdated", {"tokenId": 1, "cid": _hex(cid), "by": BRAND}, document_reader(store))
    assert changes["metadata_cid"] == str(cid)


# ---------------------------------------------------------------- replay = incremental


INCREMENTAL = "0x5000000000000000000000000000000000000005"  # twins kept by `project`, event by event
REPLAYED = "0x6000000000000000000000000000000000000006"  # twins rebuilt by `apply_state` from events
BATCH, SIZE = 3, 4
FIRST, LAST = BATCH * 10_000 + 1, BATCH * 10_000 + SIZE
MINTED_DOCUMENT = b'{"name": "as minted"}'
MINT_CID = import_bytes(MINTED_DOCUMENT).cid
DOCUMENTS = [json.dumps({"name": f"version {i}"}).encode() for i in range(3)]  # put in the store
MISSING = import_bytes(b'{"name": "never stored"}').cid  # a content update the store cannot serve
STATE = ("owner", "status", "claimed", "burned", "metadata_cid", "token_uri", "metadata_json", "name")


@dataclass(frozen=True)
class Db:
    engine: Engine
    store: LocalBlockStore


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """A migrated SQLite database on a temp file, and a block store holding DOCUMENTS."""
    tmp = tmp_path_factory.mktemp("fold-db")
    engine = make_engine(f"sqlite:///{tmp / 'twinmark.db'}")
    migrate(engine)
    store = LocalBlockStore(tmp / "blocks")
    for document in DOCUMENTS:
        add_bytes(store, document)
    yield Db(engine, store)
    engine.dispose()


def _twin(collection: str, token: int, **state: Any) -> Twin:
    return Twin(
        collection=collection,
        token_id=token,
        batch_id=BATCH,
        kind="physical",
        name="as minted",
        metadata_cid=str(MINT_CID),
        dir_cid=str(MINT_CID),
        token_uri=f"ipfs://{MINT_CID}",
        tx_hash="0x" + "aa" * 32,
        block_number=1,
        metadata_json=MINTED_DOCUMENT.decode(),
        **state,
    )


_token = st.integers(FIRST, LAST)
_address = st.sampled_from([CUSTODIAN, *HOLDERS])
BY_HEX = {_hex(import_bytes(d).cid): d for d in DOCUMENTS}
_cid = st.sampled_from([*BY_HEX, _hex(MISSING)])
EVENTS = st.one_of(
    st.builds(lambda t, a: ("Transfer", {"from": ZERO, "to": a, "tokenId": t}), _token, _address),
    st.builds(lambda t, a, b: ("Transfer", {"from": a, "to": b, "tokenId": t}), _token, _address, _address),
    st.builds(lambda t, a: ("Transfer", {"from": a, "to": ZERO, "tokenId": t}), _token, _address),
    st.builds(lambda t: ("Claimed", {"tokenId": t}), _token),
    st.builds(lambda t, s: ("StatusChanged", {"tokenId": t, "status": s, "by": BRAND}), _token, st.integers(0, 2)),
    st.builds(lambda t, c: ("ContentUpdated", {"tokenId": t, "cid": c, "by": BRAND}), _token, _cid),
    st.builds(lambda t, c: ("ServiceRecorded", {"tokenId": t, "provider": BRAND, "recordCid": c}), _token, _cid),
)


def _states(s: Session, collection: str) -> dict[int, tuple[Any, ...]]:
    rows = s.exec(select(Twin).where(Twin.collection == collection).order_by(col(Twin.token_id))).all()
    return {t.token_id: tuple(getattr(t, f) for f in STATE) for t in rows}


def _record(db: Db, history: list[tuple[str, dict[str, Any]]]) -> None:
    """Fresh twins in both collections; the history projected event by event onto INCREMENTAL and
    recorded as chain events of REPLAYED, several logs per block."""
    with session_scope(db.engine) as s:
        s.execute(delete(ChainEvent))
        s.execute(delete(Twin))
        for token in range(FIRST, LAST + 1):
            s.add(_twin(INCREMENTAL, token, owner=CUSTODIAN))
            # Stale event-driven state, as after a reorg: apply_state must not depend on it.
            s.add(_twin(REPLAYED, token, owner=HOLDERS[1], status=1, claimed=True, burned=True))
    with session_scope(db.engine) as s:
        for i, (name, args) in enumerate(history):
            project(s, INCREMENTAL, name, args, db.store)
            block = 10 + i // 3
            s.add(
                ChainEvent(
                    block_number=block,
                    block_hash=f"0x{block:064x}",
                    tx_hash=f"0x{i:064x}",
                    log_index=i % 3,
                    address=REPLAYED,
                    name=name,
                    token_id=args["tokenId"],
                    args=json.dumps(args),
                )
            )


@given(history=st.lists(EVENTS, max_size=25))
@settings(max_examples=60, deadline=None)
def test_replaying_a_history_matches_applying_it_event_by_event(
    db: Db, history: list[tuple[str, dict[str, Any]]]
) -> None:
    """For random histories over a 4-twin batch, `apply_state` over the recorded events (starting from
    stale event-driven fields) reaches the state `project` reached one event at a time; that state has
    the owner of the last transfer, the last status, the claim flag and the last content update's CID."""
    _record(db, history)
    with session_scope(db.engine) as s:
        apply_state(s, REPLAYED, FIRST, LAST, CUSTODIAN, db.store)
    with Session(db.engine) as s:
        incremental, replayed = _states(s, INCREMENTAL), _states(s, REPLAYED)
    assert set(replayed) == set(range(FIRST, LAST + 1))
    assert replayed == incremental

    for token in range(FIRST, LAST + 1):
        own = [(n, a) for n, a in history if a["tokenId"] == token]
        moves = [a["to"] for n, a in own if n == "Transfer" and a["from"] != ZERO]
        statuses = [a["status"] for n, a in own if n == "StatusChanged"]
        updates = [a["cid"] for n, a in own if n == "ContentUpdated"]
        owner, status, claimed, burned, metadata_cid, token_uri, metadata_json, name = incremental[token]
        last_owner = moves[-1] if moves else CUSTODIAN
        assert owner == (None if last_owner == ZERO else last_owner)
        assert burned == (ZERO in moves)
        assert status == (statuses[-1] if statuses else 0)
        assert claimed == any(n == "Claimed" for n, _ in own)
        if updates:
            assert _hex(CID.parse(metadata_cid)) == updates[-1]
            assert token_uri == f"ipfs://{metadata_cid}"
            # The document (and name) follow the last update the store could serve.
            readable = [BY_HEX[c] for c in updates if c in BY_HEX]
            expected = readable[-1] if readable else MINTED_DOCUMENT
            assert metadata_json == expected.decode() and name == json.loads(expected)["name"]
        else:
            assert (metadata_cid, metadata_json, name) == (str(MINT_CID), MINTED_DOCUMENT.decode(), "as minted")


def test_apply_state_resets_twins_without_history(db: Db) -> None:
    """Twins with no events in range go back to the custodian with fresh state, whatever the row said."""
    _record(db, [("Claimed", {"tokenId": FIRST})])
    with session_scope(db.engine) as s:
        apply_state(s, REPLAYED, FIRST, LAST, CUSTODIAN, db.store)
    with Session(db.engine) as s:
        replayed = _states(s, REPLAYED)
    assert replayed[FIRST][:4] == (CUSTODIAN, 0, True, False)
    for token in range(FIRST + 1, LAST + 1):
        assert replayed[token][:4] == (CUSTODIAN, 0, False, False)
