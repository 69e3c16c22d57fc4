"""The scan log: one row per thing that happened to a twin in public (a resolver hit, a page view, an
NFC tap, a verification). Personal data is kept coarse: a truncated network (IPv4 /24, IPv6 /48, never
the full address), a keyed hash of the first-party session cookie (never the cookie), the country and
region an offline database gives, a user-agent class (never the user agent). Raw rows live as long as
`TWINMARK_SCAN_RETENTION_DAYS`; daily aggregates stay."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, Index, Integer, Text, text
from sqlmodel import Field, SQLModel

from registry.db.columns import utcnow

# What happened (`channel`) and, for a page view, how the buyer arrived (`arrival`).
CHANNELS = ("resolver", "page", "tap", "verify")
ARRIVALS = ("qr", "nfc", "link")


class Scan(SQLModel, table=True):
    __tablename__ = "scans"
    __table_args__ = (
        # A twin's history in time order (rules read the recent scans of one twin).
        Index("ix_scans_twin_at", "collection", "token_id", "at"),
        # A brand's log in time order (listings, CSV export, retention).
        Index("ix_scans_brand_at", "brand_id", "at"),
        # A buyer's own scans (deletion on request).
        Index("ix_scans_session", "session"),
    )

    # 64-bit on PostgreSQL (10M+ rows); SQLite autoincrements only an INTEGER primary key (64-bit there).
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    at: datetime = Field(default_factory=utcnow)
    brand_id: str | None = Field(default=None, foreign_key="brands.id")  # None: a twin not served here
    collection: str | None = None  # None with token_id: a lookup that matched no twin
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    channel: str  # one of CHANNELS
    arrival: str | None = None  # page views: one of ARRIVALS
    # NFC taps: the tag, the counter it claimed, whether the cryptogram or signature checked, and the
    # evidence itself (JSON: SUN picc data and CMAC, or HaLo digest and signature) for offline re-checks.
    tag_kind: str | None = None  # "ntag424" or "halo"
    tag_id: str | None = None
    counter: int | None = Field(default=None, sa_type=BigInteger)
    valid: bool | None = None
    evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    block_number: int | None = Field(default=None, sa_type=BigInteger)  # chain head when answered
    country: str | None = None  # ISO 3166-1 alpha-2; None when unknown
    region: str | None = None  # ISO 3166-2 subdivision code where the database has it
    latitude: float | None = None  # the location's coordinates (city or country level), for travel speed
    longitude: float | None = None
    network: str | None = None  # "203.0.113.0/24" or "2001:db8:1::/48"
    session: str | None = None  # keyed hash of the first-party session cookie
    agent: str | None = None  # user-agent class ("ios", "android", "desktop", "wechat", "bot", "other")
    language: str | None = None  # the language the answer was given in ("en", "zh")


class ScanDaily(SQLModel, table=True):
    """Raw scans rolled up per UTC day, brand, twin, country and channel: kept after the raw rows are
    purged (counts only: no network, no session)."""

    __tablename__ = "scan_daily"
    __table_args__ = (Index("ix_scan_daily_brand_day", "brand_id", "day"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    day: date = Field(sa_type=Date)
    brand_id: str | None = None
    collection: str | None = None
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    country: str | None = None
    channel: str
    scans: int = Field(sa_type=BigInteger)
    sessions: int = Field(sa_type=BigInteger)  # distinct sessions that day (a buyer counts once a day)
    taps: int = Field(sa_type=BigInteger)


class ScanDailyTotal(SQLModel, table=True):
    """The same per day, brand, collection, country and channel (no twin): what every view but the
    per-twin one reads, a few rows a day where `scan_daily` has about one per scanned twin. Kept live:
    the scan writer adds each batch to today's rows (`grp` set, the upsert's key); the day's rollup
    replaces them with a recount (`grp` null)."""

    __tablename__ = "scan_daily_totals"
    __table_args__ = (
        Index("ix_scan_daily_totals_brand_day", "brand_id", "day"),
        Index(
            "uq_scan_daily_totals_live",
            "day",
            "grp",
            unique=True,
            sqlite_where=text("grp IS NOT NULL"),
            postgresql_where=text("grp IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    day: date = Field(sa_type=Date)
    brand_id: str | None = None
    collection: str | None = None
    country: str | None = None
    channel: str
    scans: int = Field(sa_type=BigInteger)
    sessions: int = Field(sa_type=BigInteger)  # distinct sessions that day in this collection, country, channel
    taps: int = Field(sa_type=BigInteger)
    grp: str | None = None  # live rows: brand, collection, country, channel joined (`service.group_key`)


class ScanDailyTwin(SQLModel, table=True):
    """Per day, brand and twin (`scan_daily` summed over country and channel): what the per-twin view
    reads, one row per scanned twin a day. Kept live like `scan_daily_totals`. A scan of no known
    twin (collection None) is kept under token None."""

    __tablename__ = "scan_daily_twins"
    __table_args__ = (
        Index("ix_scan_daily_twins_brand_day", "brand_id", "day"),
        Index(
            "uq_scan_daily_twins_live",
            "day",
            "grp",
            unique=True,
            sqlite_where=text("grp IS NOT NULL"),
            postgresql_where=text("grp IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    day: date = Field(sa_type=Date)
    brand_id: str | None = None
    collection: str | None = None
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    scans: int = Field(sa_type=BigInteger)
    sessions: int = Field(sa_type=BigInteger)  # summed over country and channel, as in `scan_daily`
    taps: int = Field(sa_type=BigInteger)
    grp: str | None = None  # live rows: brand, collection, token joined


class ScanTwinWindow(SQLModel, table=True):
    """Per brand and twin, `scan_daily_twins` summed over the rolled days of a standard window (the
    last 7, 30, 90 days with today, or with tomorrow; `service.WINDOWS`), recomputed when a day is
    rolled: the per-twin view of such a range reads these plus the days after `last`, one row per
    twin where the days would give one per twin a day. A scan stored after its day was rolled shows
    in the windows from the next day's rollup."""

    __tablename__ = "scan_twin_windows"
    __table_args__ = (Index("ix_scan_twin_windows_brand", "brand_id", "first", "last"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    first: date = Field(sa_type=Date)
    last: date = Field(sa_type=Date)
    brand_id: str | None = None
    collection: str | None = None
    token_id: int | None = Field(default=None, sa_type=BigInteger)
    scans: int = Field(sa_type=BigInteger)
    sessions: int = Field(sa_type=BigInteger)
    taps: int = Field(sa_type=BigInteger)


class ScanDaySession(SQLModel, table=True):
    """The sessions seen in a live day's rollup groups (twin, country, channel; and collection, country,
    channel): a scan's session increments a group's `sessions` only when its row here is new. Deleted
    when the day is rolled up (personal data: a keyed hash, kept a day at most)."""

    __tablename__ = "scan_day_sessions"

    day: date = Field(sa_type=Date, primary_key=True)
    grp: str = Field(primary_key=True)  # `service.group_key` of the group
    session: str = Field(primary_key=True)
    brand_id: str | None = None  # for erasure by one brand


class ScanRollup(SQLModel, table=True):
    """The days rolled up (one row each, so two processes never roll one day twice: the second insert
    of a day conflicts and its transaction, rollup included, is undone)."""

    __tablename__ = "scan_rollups"

    day: date = Field(sa_type=Date, primary_key=True)
    rolled_at: datetime = Field(default_factory=utcnow)
