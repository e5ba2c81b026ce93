"""The dated, sourced price table drkit's cost model reads: `prices.json` beside this module.

One entry per (service, key, region), each with its unit, USD figure, date and source; an
entry AWS's pages or Price List could not confirm offline says so (`sourced: false`). A
(service, key, region) with no entry is a *gap*: `lookup` returns None and the cost model
marks the line and the total incomplete, never a silent 0. There are no region
multipliers: a region's figure is its own entry. `drkit pricing refresh` rewrites the
SageMaker entries from the AWS Price List API (drkit/commands/pricing/command.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

PRICE_FILE = "prices.json"
HOURS_PER_MONTH = 730  # AWS pricing pages and Infracost both use 730 h/month
GLOBAL = "global"  # the region of services priced once worldwide (Route 53)


@dataclass(frozen=True)
class Price:
    """One unit price and where it came from."""

    service: str
    key: str
    region: str
    unit: str
    usd: float
    as_of: str
    source: str
    sourced: bool


@dataclass(frozen=True)
class PriceTable:
    """Every price, and the known gaps (items AWS charges for that the table cannot price)."""

    prices: dict[tuple[str, str, str], Price]
    gaps: dict[tuple[str, str], str]

    def lookup(self, service: str, key: str, region: str | None) -> Price | None:
        """The price in `region` (None: the global figure); None when the table has none."""
        return self.prices.get((service, key, region or GLOBAL))

    def gap_reason(self, service: str, key: str, region: str | None) -> str:
        """Why (service, key) has no price in `region`, for the marked line."""
        known = self.gaps.get((service, key))
        return known or f"no {service} {key} price for {region or GLOBAL} in drkit/core/{PRICE_FILE}"

    @property
    def as_of(self) -> str:
        """The newest date of any entry (each line carries its own)."""
        return max(p.as_of for p in self.prices.values())


def table_from_data(data: dict[str, Any]) -> PriceTable:
    """A table from the JSON document's shape (also what `drkit pricing refresh` writes)."""
    prices = {}
    for row in data["prices"]:
        price = Price(
            service=row["service"], key=row["key"], region=row["region"], unit=row["unit"], usd=float(row["usd"]),
            as_of=str(row["as_of"]), source=row["source"], sourced=bool(row.get("sourced", True)),
        )  # fmt: skip
        prices[(price.service, price.key, price.region)] = price
    gaps = {(g["service"], g["key"]): g["why"] for g in data.get("gaps", [])}
    return PriceTable(prices, gaps)


@cache
def default_table() -> PriceTable:
    """The table shipped with drkit (read once)."""
    text = resources.files("drkit.core").joinpath(PRICE_FILE).read_text(encoding="utf-8")
    return table_from_data(json.loads(text))


def lookup(service: str, key: str, region: str | None) -> Price | None:
    return default_table().lookup(service, key, region)


def usd(service: str, key: str, region: str | None) -> float | None:
    found = lookup(service, key, region)
    return found.usd if found else None


def instance_hourly(instance_type: str, region: str | None) -> float | None:
    """On-demand SageMaker hosting price of one instance-hour in `region`; None is a gap."""
    return usd("sagemaker", f"hosting:{instance_type}", region or "us-east-1")


PRICES_AS_OF = default_table().as_of
