"""What counts as a price field in a no-prices collection (registry.twins.prices)."""

from __future__ import annotations

import pytest

from registry.twins.prices import PricesNotAllowed, price_paths, refuse_prices


def test_price_fields_are_found_by_name_with_their_paths() -> None:
    doc = {
        "name": "Bag",
        "attributes": {"Sale Price": "5000", "colour": "red", "MSRP": 1, "royalty_bps": 500},
        "details": {"hours": 2, "seller_fee_basis_points": 250, "unitPrice": 3},
        "offers": [{"x": 1}],
        "materials": [{"name": "Calfskin", "percent": 85, "amount": 2}],  # an amount alone is no price
    }
    assert sorted(price_paths(doc)) == sorted(
        [
            "attributes.Sale Price",
            "attributes.MSRP",
            "attributes.royalty_bps",
            "details.seller_fee_basis_points",
            "details.unitPrice",
            "offers",
        ]
    )


def test_amount_with_currency_and_price_traits_count() -> None:
    doc = {"deposit": {"amount": 10, "currency": "CNY"}, "traits": [{"trait_type": "List price", "value": 9}]}
    assert price_paths(doc) == ["deposit", "traits[0]"]


def test_refusal_names_every_field() -> None:
    with pytest.raises(PricesNotAllowed) as caught:
        refuse_prices({"attributes": {"price": 1, "cost": 2}}, "twins[0]")
    assert caught.value.extra["fields"] == ["twins[0].attributes.price", "twins[0].attributes.cost"]
    assert "twins[0].attributes.price" in caught.value.detail
    refuse_prices({"attributes": {"size": "M"}, "description": "priced fairly"})  # prose is not a field
