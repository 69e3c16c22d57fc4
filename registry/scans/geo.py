"""Coarse location of a scan's network, offline: the country from `iptocc` (the five Regional
Internet Registries' delegation files, shipped in the wheel, refreshed nightly upstream: the country
a block is assigned to, which agrees with commercial databases for ~95% of IPv4), coordinates from the
country's centroid. When `TWINMARK_GEOIP_DATABASE` names a MaxMind-format file (GeoIP2/GeoLite2
City, or any database with the same fields), it is asked first: country, first subdivision (ISO
3166-2, e.g. "CN-31") and the city's coordinates.

Only the network's first address is ever looked up (a /24 or /48): the full client address never
reaches this module."""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import iptocc
import maxminddb

from registry.errors import TwinmarkError
from registry.scans.centroids import CENTROIDS

log = logging.getLogger(__name__)


class GeoDatabaseUnusable(TwinmarkError):
    code, status, title = "configuration", 500, "Service misconfigured"


@dataclass(frozen=True)
class Location:
    country: str | None = None
    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None


UNKNOWN = Location()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class Locator:
    """Network -> Location, with the last `cache` answers kept (one buyer's re-scans ask once)."""

    def __init__(self, database: Path | None = None, cache: int = 10_000) -> None:
        self._reader: maxminddb.Reader | None = None
        if database is not None:
            try:
                self._reader = maxminddb.open_database(str(database))
            except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:  # a missing or broken file: no start
                raise GeoDatabaseUnusable(f"TWINMARK_GEOIP_DATABASE {database}: {type(exc).__name__}") from None
        self._cache: OrderedDict[str, Location] = OrderedDict()
        self._size = cache
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()

    def locate(self, network: str | None) -> Location:
        if not network:
            return UNKNOWN
        with self._lock:
            found = self._cache.get(network)
            if found is not None:
                self._cache.move_to_end(network)
                return found
        found = self._lookup(network)
        with self._lock:
            self._cache[network] = found
            if len(self._cache) > self._size:
                self._cache.popitem(last=False)
        return found

    def _lookup(self, network: str) -> Location:
        try:
            address = ipaddress.ip_network(network, strict=False).network_address
        except ValueError:
            return UNKNOWN
        if not address.is_global:  # loopback, private, documentation ranges: nowhere
            return UNKNOWN
        if self._reader is not None:
            try:
                record = self._reader.get(address)
            except (ValueError, maxminddb.InvalidDatabaseError) as exc:
                log.warning("GeoIP database lookup failed: %s", type(exc).__name__)
                record = None
            if isinstance(record, dict):
                found = _from_record(record)
                if found.country is not None:
                    return found
        country = iptocc.country_code(str(address))
        return _country(country) if country else UNKNOWN


def _country(code: str | None) -> Location:
    code = code.upper() if code else None
    if code is None or len(code) != 2 or not code.isalpha():
        return UNKNOWN
    centre = CENTROIDS.get(code)
    return Location(code, None, centre[0], centre[1]) if centre else Location(code)


def _from_record(record: dict[str, Any]) -> Location:
    """A GeoIP2 City / Country record (the fields MaxMind, DB-IP and IPinfo's compatible files share)."""
    country_field = record.get("country")
    country = _country(_text(country_field.get("iso_code")) if isinstance(country_field, dict) else None)
    if country.country is None:
        return UNKNOWN
    region = None
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        code = _text(subdivisions[0].get("iso_code"))
        region = f"{country.country}-{code}"[:16] if code else None
    place = record.get("location")
    lat = _number(place.get("latitude")) if isinstance(place, dict) else None
    lon = _number(place.get("longitude")) if isinstance(place, dict) else None
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        lat, lon = country.latitude, country.longitude
    return Location(country.country, region, lat, lon)
