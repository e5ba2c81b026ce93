"""`drkit pricing refresh`: rewrite the SageMaker hosting prices in drkit/core/prices.json from the
AWS Price List API (GetProducts, service code AmazonSageMaker), for a user with AWS credentials.

The Price List API is served from three regions only (us-east-1, eu-central-1, ap-south-1) and
answers for every region. Each `PriceList` item is one product as a JSON document encoded as a
string: `product.attributes` (regionCode, usagetype such as `USE1-Host:ml.m5.xlarge`) and
`terms.OnDemand.<offer>.priceDimensions.<rate>.pricePerUnit.USD`. Hosting (real-time and async
endpoints) bills the `…-Host:<instance type>` usage types, per hour.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drkit.core import pricing
from drkit.core.errors import DrkitError

PRICE_LIST_ENDPOINTS = ("us-east-1", "eu-central-1", "ap-south-1")
SERVICE_CODE = "AmazonSageMaker"
_HOST = re.compile(r"-Host:(ml\.[a-z0-9]+\.[a-z0-9]+)$")


def price_list_items(client: Any, region: str) -> Iterator[dict[str, Any]]:
    """Every SageMaker product of `region`, decoded (GetProducts pages through NextToken)."""
    request: dict[str, Any] = {
        "ServiceCode": SERVICE_CODE,
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    while True:
        response = client.get_products(**request)
        for text in response.get("PriceList", []):
            yield json.loads(text)  # each item is a JSON document encoded as a string
        token = response.get("NextToken")
        if not token:
            return
        request["NextToken"] = token


def hosting_prices(items: Iterable[Mapping[str, Any]], instance_types: set[str], today: str) -> list[dict[str, Any]]:
    """prices.json entries for the on-demand hourly hosting rate of each wanted instance type."""
    out = []
    for item in items:
        attributes = (item.get("product") or {}).get("attributes") or {}
        match = _HOST.search(str(attributes.get("usagetype", "")))
        if not match or match[1] not in instance_types:
            continue
        for offer in ((item.get("terms") or {}).get("OnDemand") or {}).values():
            for dimension in (offer.get("priceDimensions") or {}).values():
                usd = (dimension.get("pricePerUnit") or {}).get("USD")
                if dimension.get("unit") != "Hrs" or usd is None or float(usd) == 0:
                    continue
                out.append({
                    "service": "sagemaker", "key": f"hosting:{match[1]}", "region": attributes.get("regionCode"),
                    "unit": "instance-hour", "usd": float(usd), "as_of": today,
                    "source": f"AWS Price List API, GetProducts {SERVICE_CODE}, usage type {attributes['usagetype']}, "
                    f"SKU {(item.get('product') or {}).get('sku')}, publication {item.get('publicationDate', '?')}",
                    "sourced": True,
                })  # fmt: skip
    return out


def refreshed(data: dict[str, Any], fetched: list[dict[str, Any]]) -> dict[str, Any]:
    """The price document with every fetched entry replacing its (service, key, region)."""
    new = {(e["service"], e["key"], e["region"]): e for e in fetched}
    kept = [e for e in data["prices"] if (e["service"], e["key"], e["region"]) not in new]
    return {**data, "prices": sorted(kept + list(new.values()), key=lambda e: (e["service"], e["key"], e["region"]))}


def dump(data: dict[str, Any]) -> str:
    """One entry per line, so a refresh is a readable diff."""
    head = json.dumps({k: v for k, v in data.items() if k != "prices"}, indent=1)[:-2]
    rows = ",\n".join("  " + json.dumps(e) for e in data["prices"])
    return f'{head},\n "prices": [\n{rows}\n ]\n}}\n'


def run(args: argparse.Namespace) -> int:
    import boto3  # only this command talks to AWS

    path = Path(args.output)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DrkitError(f"cannot read the price table {path}: {exc}") from None
    regions = args.region or sorted({e["region"] for e in data["prices"] if e["service"] == "sagemaker"})
    wanted = {e["key"].removeprefix("hosting:") for e in data["prices"] if e["key"].startswith("hosting:")}
    client = boto3.client("pricing", region_name=args.endpoint_region)
    today = datetime.now(UTC).date().isoformat()
    fetched = []
    for region in regions:
        found = hosting_prices(price_list_items(client, region), wanted, today)
        print(f"{region}: {len(found)} hosting prices from the Price List API", file=sys.stderr)
        fetched += found
    partial = path.with_name(path.name + ".partial")  # renamed over the table whole: never half a table
    partial.write_text(dump(refreshed(data, fetched)), encoding="utf-8")
    os.replace(partial, path)
    print(f"wrote {path}", file=sys.stderr)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("pricing", help="Maintain drkit's price table.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    refresh = actions.add_parser("refresh", help="Rewrite SageMaker hosting prices from the AWS Price List API (needs credentials).")
    refresh.add_argument("--region", action="append", help="Region to refresh (repeatable). Default: every region in the table.")
    refresh.add_argument("--endpoint-region", choices=PRICE_LIST_ENDPOINTS, default="us-east-1", help="Price List API endpoint. Default: us-east-1.")
    refresh.add_argument("--output", default=str(Path(pricing.__file__).with_name(pricing.PRICE_FILE)), help="Price file. Default: drkit's own.")
    refresh.set_defaults(func=run)
