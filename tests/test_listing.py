"""listing: v2's metadata filters as written in a query, parsed or refused. Pure, table-driven."""

from __future__ import annotations

import pytest

from imagegate.core.listing import InvalidListing, MetaFilter, parse_filters


@pytest.mark.parametrize(
    ("name", "value", "parsed"),
    [
        ("meta.status[eq]", "active", MetaFilter(("status",), "eq", ("active",))),
        ("meta.status[eq:string]", "active", MetaFilter(("status",), "eq:string", ("active",))),
        ("meta.priority[eq:number]", "5", MetaFilter(("priority",), "eq:number", (5.0,))),
        ("meta.enabled[eq:boolean]", "true", MetaFilter(("enabled",), "eq:boolean", (True,))),
        ("meta.priority[gt]", "1", MetaFilter(("priority",), "gt", (1.0,))),
        ("meta.priority[gt:number]", "1", MetaFilter(("priority",), "gt", (1.0,))),
        ("meta.priority[gte:number]", "1", MetaFilter(("priority",), "gte", (1.0,))),
        ("meta.score[lt:number]", "100", MetaFilter(("score",), "lt", (100.0,))),
        ("meta.score[lte:number]", "-2.5e1", MetaFilter(("score",), "lte", (-25.0,))),
        ("meta.region[in]", "us-east|eu", MetaFilter(("region",), "in", ("us-east", "eu"))),
        ("meta.region[in:string]", "a|4", MetaFilter(("region",), "in:string", ("a", "4"))),
        ("meta.ratings[in:number]", "4|5", MetaFilter(("ratings",), "in:number", (4.0, 5.0))),
        ("meta.region.name[eq]", "eu", MetaFilter(("region", "name"), "eq", ("eu",))),
    ],
)
def test_every_documented_form_is_accepted(name: str, value: str, parsed: MetaFilter) -> None:
    """The forms of the SDK's documentation for ``images.v2.list``, each with its meaning."""
    assert parse_filters([(name, value)]) == [parsed]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("meta.n[in:number]", "4|five"),
        ("meta.n[in:number]", "1e999"),
        ("meta.n[gte:number]", "abc"),
        ("meta.n[gt]", "-1e400"),
        ("meta.n[eq:number]", "NaN"),
        ("meta.n[lt:number]", "Infinity"),
        ("meta.n[in:number]", "|".join(["1"] * 11)),
        ("meta.n[in:string]", "|".join(["a"] * 11)),
        ("meta.n[in:boolean]", "true"),
        ("meta.n[gt:string]", "a"),
        ("meta.n[eq:number:number]", "1"),
        ("meta.n[like]", "a"),
        ("meta.n[]", "a"),
        ("meta.n", "a"),
    ],
)
def test_other_forms_and_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(InvalidListing):
        parse_filters([(name, value)])
