"""Coarse location, offline: a MaxMind-format file built here (the `mmdb-writer` dev dependency writes
the same format GeoIP2/GeoLite2 City files have), the RIR country data of `iptocc` behind it, country
centroids, IPv6, and networks nobody knows."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from registry.scans.centroids import CENTROIDS
from registry.scans.geo import UNKNOWN, GeoDatabaseUnusable, Locator


@pytest.fixture(scope="module")
def city_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoIP2-City")
    writer.insert_network(
        IPSet(["81.2.69.0/24"]),
        {
            "country": {"iso_code": "GB"},
            "subdivisions": [{"iso_code": "ENG"}],
            "location": {"latitude": 51.5142, "longitude": -0.0931},
        },
    )
    writer.insert_network(
        IPSet(["2a02:1234::/32"]),
        {
            "country": {"iso_code": "DE"},
            "subdivisions": [{"iso_code": "BE"}],
            "location": {"latitude": 52.52, "longitude": 13.40},
        },
    )
    # A record without coordinates or subdivision (country-level databases look like this)
    writer.insert_network(IPSet(["82.0.0.0/24"]), {"country": {"iso_code": "fr"}})
    path = tmp_path_factory.mktemp("geo") / "city.mmdb"
    writer.to_db_file(str(path))
    return path


def test_the_city_database_gives_region_and_city_coordinates(city_db: Path) -> None:
    found = Locator(city_db).locate("81.2.69.0/24")
    assert (found.country, found.region) == ("GB", "GB-ENG")
    assert (found.latitude, found.longitude) == pytest.approx((51.5142, -0.0931))


def test_ipv6_networks_are_located_by_their_first_address(city_db: Path) -> None:
    found = Locator(city_db).locate("2a02:1234:5::/48")
    assert (found.country, found.region) == ("DE", "DE-BE")
    assert found.latitude == pytest.approx(52.52)
    # Without the file: the country from the RIR data (Google's 2001:4860::/32 is assigned to the US)
    plain = Locator().locate("2001:4860:4860::/48")
    assert plain.country == "US" and plain.region is None
    assert (plain.latitude, plain.longitude) == CENTROIDS["US"]


def test_a_record_without_coordinates_falls_back_to_the_country_centroid(city_db: Path) -> None:
    found = Locator(city_db).locate("82.0.0.0/24")
    assert found.country == "FR" and found.region is None
    assert (found.latitude, found.longitude) == CENTROIDS["FR"]


def test_networks_the_file_lacks_fall_back_to_the_registries(city_db: Path) -> None:
    found = Locator(city_db).locate("8.8.8.0/24")
    assert found.country == "US" and found.region is None
    assert (found.latitude, found.longitude) == CENTROIDS["US"]


@pytest.mark.parametrize(
    "network",
    ["203.0.113.0/24", "10.1.2.0/24", "127.0.0.0/24", "2001:db8:1::/48", "fe80::/48", "", None, "not-a-network"],
)
def test_unknown_and_private_networks_have_no_location(city_db: Path, network: str | None) -> None:
    assert Locator(city_db).locate(network) == UNKNOWN
    assert Locator().locate(network) == UNKNOWN


def test_an_unusable_database_file_fails_start_up(tmp_path: Path) -> None:
    with pytest.raises(GeoDatabaseUnusable):
        Locator(tmp_path / "missing.mmdb")
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a maxmind database" * 10)
    with pytest.raises(GeoDatabaseUnusable):
        Locator(broken)


def test_answers_are_cached_per_network(city_db: Path) -> None:
    locator = Locator(city_db, cache=2)
    first = locator.locate("81.2.69.0/24")
    assert locator.locate("81.2.69.0/24") is first
    locator.locate("8.8.8.0/24")
    locator.locate("1.0.16.0/24")  # evicts the oldest
    assert "81.2.69.0/24" not in locator._cache
