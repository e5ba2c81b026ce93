"""`drkit pricing refresh` against botocore Stubber fixtures in the Price List API's own shape:
GetProducts returns `PriceList`, a list of JSON documents each encoded as a string."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from drkit.cli import main
from drkit.commands.pricing.command import hosting_prices, price_list_items, refreshed
from drkit.core.pricing import table_from_data


def product(region: str, usagetype: str, usd: str, sku: str) -> str:
    """One PriceList item, as GetProducts returns it: a string holding a JSON document."""
    return json.dumps({
        "product": {"productFamily": "ML Instance", "sku": sku, "attributes": {
            "regionCode": region, "usagetype": usagetype, "servicecode": "AmazonSageMaker", "component": "Hosting"}},
        "serviceCode": "AmazonSageMaker",
        "terms": {"OnDemand": {f"{sku}.JRTCKXETXF": {"priceDimensions": {f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
            "unit": "Hrs", "pricePerUnit": {"USD": usd}, "description": f"${usd} per hour"}}}}},
        "publicationDate": "2026-11-20T00:00:00Z",
    })  # fmt: skip


def request(region: str, token: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [{"Type": "TERM_MATCH", "Field": "regionCode", "Value": region}],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if token:
        params["NextToken"] = token
    return params


def client() -> Any:
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_items_are_decoded_from_strings_across_pages() -> None:
    pricing = client()
    with Stubber(pricing) as stub:
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [product("us-east-1", "USE1-Host:ml.m5.xlarge", "0.2300000000", "JDZQJFUVUR8SUWHS")], "NextToken": "t1"}, request("us-east-1"))
        stub.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": [product("us-east-1", "USE1-Notebook:ml.m5.xlarge", "0.2300000000", "N1")]}, request("us-east-1", "t1"))
        items = list(price_list_items(pricing, "us-east-1"))
        stub.assert_no_pending_responses()
    assert [i["product"]["sku"] for i in items] == ["JDZQJFUVUR8SUWHS", "N1"]
    # only hosting usage types of wanted instance types become prices; notebooks do not
    (entry,) = hosting_prices(items, {"ml.m5.xlarge"}, "2026-11-29")
    assert entry["key"] == "hosting:ml.m5.xlarge" and entry["usd"] == pytest.approx(0.23) and entry["sourced"] is True
    assert "USE1-Host:ml.m5.xlarge" in entry["source"] and "JDZQJFUVUR8SUWHS" in entry["source"]


def test_refresh_replaces_only_the_fetched_entries() -> None:
    data = {"prices": [
        {"service": "sagemaker", "key": "hosting:ml.m5.xlarge", "region": "eu-west-1", "unit": "instance-hour", "usd": 0.2562, "as_of": "2026-11-29", "source": "not sourced: estimate", "sourced": False},
        {"service": "s3", "key": "put", "region": "eu-west-1", "unit": "request", "usd": 5e-6, "as_of": "2025-10", "source": "page", "sourced": True},
    ]}  # fmt: skip
    fetched = hosting_prices([json.loads(product("eu-west-1", "EU-Host:ml.m5.xlarge", "0.2560000000", "EU1"))], {"ml.m5.xlarge"}, "2026-11-29")
    table = table_from_data(refreshed(data, fetched))
    found = table.lookup("sagemaker", "hosting:ml.m5.xlarge", "eu-west-1")
    assert found is not None and found.usd == pytest.approx(0.256) and found.sourced
    assert table.lookup("s3", "put", "eu-west-1") is not None


def test_the_command_writes_the_file_through_the_price_list_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"hours_per_month": 730, "gaps": [], "prices": [
        {"service": "sagemaker", "key": "hosting:ml.c6i.xlarge", "region": "us-west-2", "unit": "instance-hour", "usd": 0.204, "as_of": "2026-11-29", "source": "not sourced", "sourced": False},
    ]}))  # fmt: skip
    pricing = client()
    stub = Stubber(pricing)
    stub.add_response("get_products", {"PriceList": [product("us-west-2", "USW2-Host:ml.c6i.xlarge", "0.2040000000", "W2")]}, request("us-west-2"))
    stub.activate()
    monkeypatch.setattr(boto3, "client", lambda service, region_name: pricing if (service, region_name) == ("pricing", "us-east-1") else None)
    assert main(["pricing", "refresh", "--output", str(prices)]) == 0
    stub.assert_no_pending_responses()
    (entry,) = json.loads(prices.read_text())["prices"]
    assert entry["sourced"] is True and "USW2-Host:ml.c6i.xlarge" in entry["source"]
