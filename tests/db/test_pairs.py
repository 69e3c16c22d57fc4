"""`pairs_in`: the same rows as a row-value IN, found through the index (SQLite scans a whole table
for a row-value IN list), on SQLite and PostgreSQL's SQL alike."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, select, tuple_

from registry.db.pairs import pairs_in

META = MetaData()
ROWS = Table(
    "rows", META, Column("a", String, primary_key=True), Column("b", Integer, primary_key=True), Column("v", Integer)
)


def test_pairs_in_finds_the_rows_of_a_row_value_in_by_index(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'pairs.db'}")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            ROWS.insert(),
            [{"a": a, "b": b, "v": i} for i, (a, b) in enumerate((a, b) for a in "xyz" for b in range(200))],
        )
    wanted = [("x", 3), ("x", 150), ("z", 7), ("y", 999), ("q", 3)]  # two that no row has
    with engine.connect() as conn:
        found = conn.execute(select(ROWS.c.a, ROWS.c.b).where(pairs_in(ROWS.c.a, ROWS.c.b, wanted))).all()
        expected = conn.execute(select(ROWS.c.a, ROWS.c.b).where(tuple_(ROWS.c.a, ROWS.c.b).in_(wanted))).all()
        assert sorted(found) == sorted(expected) == [("x", 3), ("x", 150), ("z", 7)]
        assert conn.execute(select(ROWS.c.a).where(pairs_in(ROWS.c.a, ROWS.c.b, []))).all() == []
        query = select(ROWS.c.v).where(pairs_in(ROWS.c.a, ROWS.c.b, wanted))
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all())
        assert "SEARCH rows USING INDEX" in plan and "SCAN rows" not in plan, plan
        row_value = select(ROWS.c.v).where(tuple_(ROWS.c.a, ROWS.c.b).in_(wanted))
        compiled = row_value.compile(engine, compile_kwargs={"literal_binds": True})
        plan = " ".join(str(r) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all())
        assert "SCAN rows" in plan  # what pairs_in avoids (if SQLite learns to search these, drop pairs_in)
