"""Reads: items and stock through the connector, and the api1 REST surface itself."""

from __future__ import annotations

from decimal import Decimal

import httpx

from sage_amazon.sandbox.listing_items import LISTED_ITEMS
from sage_amazon.sandbox.seller_catalog import CATALOG

from .conftest import make_target

NEW_LISTED = [i for i in LISTED_ITEMS if i.new]  # Sage items to be listed on Amazon, not on it yet


def test_read_items_follows_paging_and_shows_the_item_master(x3):
    target = make_target(x3)
    target.rest.page_size = 4  # force several $links.$next pages
    items = target.read_items()
    target.close()
    codes = {i.code for i in items}
    assert len(items) == len(codes) == len(CATALOG) - 2 + len(NEW_LISTED)  # + the items only Sage has (issue 18)
    assert "NW-FILTER-SQ" not in codes and "NW-CHAIR-FLD" not in codes  # deliberately missing
    assert {"NW-BTL-1000", "NW-HL300"} <= codes  # named differently from the Amazon SKUs
    kit = next(i for i in items if i.code == "NW-MAP-KIT")
    assert kit.description == "Northwind Navigation Map & Compass Kit" and kit.active and kit.unit == "UN"


def test_read_stock_is_physical_minus_allocated(x3, target):
    levels = target.read_stock("US01", ["NW-TENT-2P", "NW-MAP-KIT", "NOPE"])
    assert sorted(level.item for level in levels) == ["NW-MAP-KIT", "NW-TENT-2P"]
    for level in levels:
        [mvt] = x3.rows("ITMMVT", STOFCY="US01", ITMREF=level.item)
        assert level.quantity == mvt["PHYSTO_0"] - mvt["PHYALL_0"]
        assert isinstance(level.quantity, Decimal)
    fba = target.read_stock("FBAUS")
    assert {level.item for level in fba} and "NW-KNIFE-MT" not in {level.item for level in fba}  # MFN only
    assert target.read_stock("US01", []) == []


def test_rest_query_where_order_count_and_next(x3):
    auth = (x3.user, x3.password)
    url = f"{x3.url}/api1/x3/erp/{x3.folder}/ITMMASTER"
    first = httpx.get(url, params={"representation": "ITMMASTER.$query", "count": "3",
                                   "where": "left(ITMREF,5) eq 'NW-TE' or ITMSTA ne 1",
                                   "orderBy": "ITMREF desc"}, auth=auth).json()
    assert [r["ITMREF"] for r in first["$resources"]] == ["NW-TENT-4P", "NW-TENT-2P"]
    assert "$next" not in first["$links"]
    page = httpx.get(url, params={"representation": "ITMMASTER.$query", "count": "4"}, auth=auth).json()
    seen = [r["ITMREF"] for r in page["$resources"]]
    while "$next" in page["$links"]:
        page = httpx.get(page["$links"]["$next"]["$url"], auth=auth).json()
        seen += [r["ITMREF"] for r in page["$resources"]]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == len(CATALOG) - 2 + len(NEW_LISTED)
    after = httpx.get(url, params={"representation": "ITMMASTER.$query", "key": f"gt.{seen[4]}"}, auth=auth).json()
    assert [r["ITMREF"] for r in after["$resources"]] == seen[5:]


def test_rest_sorder_query_and_details(x3, target, order_ref):
    from .test_orders import an_order

    number = target.create_sales_order(an_order(order_ref)).sage_number
    auth = (x3.user, x3.password)
    base = f"{x3.url}/api1/x3/erp/{x3.folder}/SORDER"
    doc = httpx.get(base, params={"representation": "SORDER.$query",
                                  "where": f"CUSORDREF eq '{order_ref}'"}, auth=auth).json()
    [row] = doc["$resources"]
    for prop in ("SOHNUM", "CUSORDREF", "BPCORD", "ORDDAT", "SALFCY", "CUR", "ORDSTA", "DLVSTA"):
        assert prop in row
    assert (row["SOHNUM"], row["ORDDAT"], row["ORDSTA"], row["DLVSTA"]) == (number, "2026-11-20", 1, 1)
    details = httpx.get(f"{base}('{number}')", params={"representation": "SORDER.$details"}, auth=auth).json()
    assert [ln["ITMREF"] for ln in details["SOHSOQ"]] == ["NW-TENT-2P", "NW-MAP-KIT"]
    assert details["BPDNAM"][0] == "Smith & Sons <Ltd> \"Ørsted\""
    missing = httpx.get(f"{base}('NOPE')", params={"representation": "SORDER.$details"}, auth=auth)
    assert missing.status_code == 404 and "Record does not exist" in missing.text


def test_rest_other_classes_and_errors(x3):
    auth = (x3.user, x3.password)
    base = f"{x3.url}/api1/x3/erp/{x3.folder}"
    for cls in ("BPCUSTOMER", "ITMMVT", "STOCK", "SINVOICE", "GACCENTRY"):
        response = httpx.get(f"{base}/{cls}", params={"representation": f"{cls}.$query"}, auth=auth)
        assert response.status_code == 200 and "$resources" in response.json()
    customers = httpx.get(f"{base}/BPCUSTOMER", params={"representation": "BPCUSTOMER.$query",
                                                        "where": "left(BPCNUM,3) eq 'AMZ'",
                                                        "orderBy": "BPCNUM"}, auth=auth).json()
    assert [(c["BPCNUM"], c["CUR"]) for c in customers["$resources"]] == [
        ("AMZDE", "EUR"), ("AMZGB", "GBP"), ("AMZUS", "USD")]
    assert httpx.get(f"{base}/BPCUSTOMER", params={"representation": "BPCUSTOMER.$query"}).status_code == 401
    assert httpx.get(f"{x3.url}/api1/x3/erp/NOFOLDER/BPCUSTOMER",
                     params={"representation": "BPCUSTOMER.$query"}, auth=auth).status_code == 404
    bad = httpx.get(f"{base}/BPCUSTOMER", params={"representation": "BPCUSTOMER.$query", "where": "NOPE eq 1"},
                    auth=auth)
    assert bad.status_code == 400 and "$diagnoses" in bad.json()
