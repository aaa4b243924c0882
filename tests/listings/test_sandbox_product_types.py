"""The Amazon sandbox's Product Type Definitions API and its validation of listings submissions, as Amazon answers
them: every answer valid against Amazon's models (shared/spapi-models), a submission missing a required attribute
INVALID with issue 90220 naming the attribute, nothing stored by an INVALID or a VALIDATION_PREVIEW submission."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.listings.conftest import SELLER, US
from tests.sandbox_amazon.conftest import ModelValidator, _models_dir

DEFINITIONS = "product-type-definitions-api-model/definitionsProductTypes_2020-09-01.json"
LISTINGS = "listings-items-api-model/listingsItems_2021-08-01.json"


@pytest.fixture(scope="module")
def models() -> ModelValidator:
    return ModelValidator(_models_dir())


@pytest.fixture
def api(amazon: Any) -> Any:
    from tests.listings.conftest import sp_api_resource

    client = sp_api_resource(amazon).get_client()
    yield client
    client.close()


def _call(api: Any, operation: str, api_name: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return api.call(operation, api_name, method, *args, marketplace_id=US, marketplaceIds=US, **kwargs).payload


def _full(ean: str = "0860001234509", **drop: bool) -> dict[str, Any]:
    attrs = {"item_name": [{"value": "Northwind Test Lantern", "marketplace_id": US}],
             "brand": [{"value": "Northwind", "marketplace_id": US}],
             "externally_assigned_product_identifier": [{"type": "ean", "value": ean, "marketplace_id": US}],
             "condition_type": [{"value": "new_new", "marketplace_id": US}],
             "purchasable_offer": [{"marketplace_id": US, "currency": "USD",
                                    "our_price": [{"schedule": [{"value_with_tax": 34.99}]}]}]}
    return {k: v for k, v in attrs.items() if k not in drop}


def test_definitions_conform_to_amazons_model_and_link_their_schema(api, models):
    found = _call(api, "searchDefinitionsProductTypes", "product_types", "search_definitions_product_types",
                  keywords="tent")
    models.validate(DEFINITIONS, "searchDefinitionsProductTypes", 200, found)
    assert [t["name"] for t in found["productTypes"]] == ["TENT"]
    definition = _call(api, "getDefinitionsProductType", "product_types", "get_definitions_product_type", "TENT",
                       sellerId=SELLER, requirements="LISTING")
    models.validate(DEFINITIONS, "getDefinitionsProductType", 200, definition)
    assert definition["productType"] == "TENT" and definition["requirementsEnforced"] == "ENFORCED"
    schema = httpx.get(definition["schema"]["link"]["resource"], timeout=60).json()
    assert {"item_name", "brand", "externally_assigned_product_identifier", "item_package_weight"} <= set(
        schema["required"])
    assert "purchasable_offer" in schema["properties"]


def test_submissions_are_validated_against_the_product_type(api, models):
    from sage_amazon.amazon.client import SpApiError

    def put(sku: str, attributes: dict[str, Any], preview: bool = False) -> dict[str, Any]:
        extra = {"mode": "VALIDATION_PREVIEW"} if preview else {}
        answer = _call(api, "putListingsItem", "listings", "put_listings_item", SELLER, sku,
                       body={"productType": "PRODUCT", "requirements": "LISTING", "attributes": attributes}, **extra)
        models.validate(LISTINGS, "putListingsItem", 200, answer)
        return answer

    def served(sku: str) -> bool:
        try:
            _call(api, "getListingsItem", "listings", "get_listings_item", SELLER, sku)
            return True
        except SpApiError as exc:
            assert exc.status == 404
            return False

    missing = put("LT-1", _full(brand=True), preview=True)
    assert missing["status"] == "INVALID"
    assert missing["issues"] == [{"code": "90220", "message": "'brand' is required but not supplied.",
                                  "severity": "ERROR", "attributeNames": ["brand"],
                                  "categories": ["MISSING_ATTRIBUTE"]}]
    bad_ean = put("LT-1", _full(ean="12345"))
    assert bad_ean["status"] == "INVALID"
    assert bad_ean["issues"][0]["attributeNames"] == ["externally_assigned_product_identifier"]
    assert not served("LT-1")  # an INVALID submission changes nothing
    assert put("LT-1", _full(), preview=True)["status"] == "VALID"
    assert not served("LT-1")  # a preview changes nothing
    assert put("LT-1", _full())["status"] == "ACCEPTED" and served("LT-1")

    patch = _call(api, "patchListingsItem", "listings", "patch_listings_item", SELLER, "LT-1", body={
        "productType": "PRODUCT", "patches": [{"op": "replace", "path": "/attributes/condition_type",
                                               "value": [{"value": "brand_new", "marketplace_id": US}]}]})
    models.validate(LISTINGS, "patchListingsItem", 200, patch)
    assert patch["status"] == "INVALID" and patch["issues"][0]["attributeNames"] == ["condition_type"]


def test_feed_messages_are_validated_in_the_processing_report_shape(amazon):
    from jsonschema import Draft7Validator

    from sage_amazon.sandbox.amazon import documents, feeds_api

    world = amazon.world
    doc = {"header": {"sellerId": SELLER, "version": "2.0", "issueLocale": "en_US"},
           "messages": [{"messageId": 1, "sku": "LT-FEED", "operationType": "UPDATE", "productType": "PRODUCT",
                         "attributes": _full(brand=True)}]}
    doc_id = documents.new_document_id()
    documents.store_document(world, doc_id, json.dumps(doc), "feed", gzip_it=False)
    with world.lock:
        report = feeds_api.process(world, {"feedId": "1", "inputFeedDocumentId": doc_id, "marketplaceIds": [US]})
    schema = json.loads((_models_dir() / "schemas" / "feeds" / "listings-feed-processing-report-schema-v2.json")
                        .read_text())
    assert not list(Draft7Validator(schema).iter_errors(report))
    assert report["summary"]["messagesInvalid"] == 1
    assert report["issues"] == [{"messageId": 1, "sku": "LT-FEED", "code": "90220", "severity": "ERROR",
                                 "message": "'brand' is required but not supplied.", "attributeName": "brand"}]
    assert world.state["listings"].get(f"{US}|LT-FEED") is None
