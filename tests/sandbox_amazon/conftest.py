"""Fixtures: a running Amazon sandbox (with a moto SQS) on free ports, python-amazon-sp-api clients built
the way the pipeline builds them, and validation of raw response bodies against Amazon's models."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sage_amazon.sandbox.amazon import credentials
from sage_amazon.sandbox.amazon.server import free_port, running_sandbox

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "spapi-models"
MARKETPLACE_REGION = {"ATVPDKIKX0DER": "us-east-1", "A1F83G8C2ARO7P": "eu-west-1", "A1PA6795UKMFR9": "eu-west-1"}
SELLING_REGION = {"us-east-1": "NA", "eu-west-1": "EU", "us-west-2": "FE"}  # Amazon's SP-API region of each


def region_url(sb: Any, marketplace_id: str) -> str:
    """The sandbox host of the marketplace's region (the main port is NA's; EU and FE have their own)."""
    return sb.region_urls[SELLING_REGION[MARKETPLACE_REGION[marketplace_id]]]


def region_token(marketplace_id: str) -> str:
    return credentials.REGION_REFRESH_TOKENS[SELLING_REGION[MARKETPLACE_REGION[marketplace_id]]]


def settlement_amount(text: str) -> Decimal:
    """A settlement amount in either form Amazon writes: 1234.50 or, in EU V2 files, 1.234,50 (test-side
    reading, independent of the product's parser)."""
    return Decimal(text.replace(".", "").replace(",", ".")) if "," in text else Decimal(text)


def _models_dir() -> Path:
    if SHARED.is_dir():
        return SHARED
    reason = f"Amazon's SP-API models are not available at {SHARED}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (required under CI=true)")
    pytest.skip(reason)


class ResponseRecorder:
    """Keeps the raw JSON of every response the real client parses (the client strips `payload`)."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, str, int, Any]] = []

    def __call__(self, original: Any) -> Any:
        def wrapper(res: Any, **kwargs: Any) -> Any:
            try:
                body = res.json()
            except ValueError:
                body = None
            self.responses.append((res.request.method, res.request.url.path, res.status_code, body))
            return original(res, **kwargs)

        return wrapper

    @property
    def last(self) -> tuple[str, str, int, Any]:
        return self.responses[-1]


@pytest.fixture(scope="session")
def recorder() -> Iterator[ResponseRecorder]:
    import sp_api.base.client as client_module

    rec = ResponseRecorder()
    original = client_module.parse_response
    client_module.parse_response = rec(original)
    yield rec
    client_module.parse_response = original


class ModelValidator:
    """Validates a body against the response schema of an operation in Amazon's swagger models,
    resolving the model's $refs with `referencing`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._docs: dict[str, dict[str, Any]] = {}

    def doc(self, model: str) -> dict[str, Any]:
        if model not in self._docs:
            self._docs[model] = json.loads((self.root / "models" / model).read_text())
        return self._docs[model]

    def schema_of(self, model: str, operation_id: str, status: int) -> dict[str, Any]:
        for methods in self.doc(model)["paths"].values():
            for op in methods.values():
                if isinstance(op, dict) and op.get("operationId") == operation_id:
                    return op["responses"][str(status)]["schema"]
        raise KeyError(f"{operation_id} not in {model}")

    def validate(self, model: str, operation_id: str, status: int, body: Any) -> None:
        from jsonschema import Draft4Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        uri = f"urn:spapi:{model}"
        doc = self.doc(model)
        registry = Registry().with_resource(uri, Resource(contents=doc, specification=DRAFT4))
        schema = dict(self.schema_of(model, operation_id, status))
        if "$ref" in schema:
            schema = {"$ref": uri + schema["$ref"]}
        validator = Draft4Validator(schema, registry=registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{operation_id}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])

    def validate_notification(self, schema_file: str, body: Any) -> None:
        from jsonschema import Draft7Validator

        schema = json.loads((self.root / "schemas" / "notifications" / schema_file).read_text())
        errors = list(Draft7Validator(schema).iter_errors(body))
        assert not errors, "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])


@pytest.fixture(scope="session")
def models() -> ModelValidator:
    return ModelValidator(_models_dir())


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    from sage_amazon.sandbox.sqs import SqsServer

    server = SqsServer(port=free_port())
    server.start()
    try:
        yield server.endpoint
    finally:
        server.stop()


class RunningClock:
    """A seller's clock that starts at a fixed instant and runs at the machine's pace (monotonic): the
    sandbox's history and every window a test asks for are the same on any calendar day."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.started = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.started)


SELLER_CLOCK = RunningClock(datetime(2026, 11, 18, 9, 0, tzinfo=UTC))  # the module sandboxes' clock


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, sqs_endpoint: str) -> Iterator[Any]:
    queue = f"sandbox-test-{os.getpid()}"
    with running_sandbox(tmp_path_factory.mktemp("amazon"), seed=42, time_scale=50, sqs_endpoint=sqs_endpoint,
                         inventory_page_size=4, now=SELLER_CLOCK(), clock=SELLER_CLOCK) as sb:
        sb.test_queue = queue
        yield sb


def token_client_class(base_url: str) -> type:
    from sp_api.auth import AccessTokenClient

    host = base_url.split("://", 1)[1]
    return type("SandboxTokenClient", (AccessTokenClient,), {"scheme": "http://", "host": host,
                                                              "path": "/auth/o2/token"})


def make_client(api_class: type, base_url: str, marketplace_id: str = "ATVPDKIKX0DER", **kwargs: Any) -> Any:
    """A client as the pipeline constructs it: only the endpoint and the LWA endpoint differ from Amazon."""
    creds = {"refresh_token": credentials.SP_API_REFRESH_TOKEN, "lwa_app_id": credentials.LWA_APP_ID,
             "lwa_client_secret": credentials.LWA_CLIENT_SECRET}
    marketplace = SimpleNamespace(endpoint=base_url, marketplace_id=marketplace_id,
                                  region=MARKETPLACE_REGION[marketplace_id])
    kwargs.setdefault("timeout", 120)  # httpx's 5 s default: an in-process sandbox on a loaded machine took longer
    return api_class(marketplace, credentials=creds, auth_token_client_class=token_client_class(base_url), **kwargs)


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> None:
    # python-amazon-sp-api caches access tokens per refresh token in module globals; each sandbox issues its own
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


@pytest.fixture
def client(sandbox: Any, recorder: ResponseRecorder) -> Any:
    def factory(api_class: type, marketplace_id: str = "ATVPDKIKX0DER", **kwargs: Any) -> Any:
        """A client of the marketplace's region: its host and its authorisation, as on Amazon."""
        kwargs.setdefault("refresh_token", region_token(marketplace_id))
        return make_client(api_class, region_url(sandbox, marketplace_id), marketplace_id, **kwargs)

    return factory


ALL_TYPES = {"ORDER_CHANGE": "1.0", "REPORT_PROCESSING_FINISHED": "2020-09-04",
             "FBA_INVENTORY_AVAILABILITY_CHANGES": "1.0", "TRANSACTION_UPDATE": "1.0"}


def subscribe(sb: Any, queue_name: str = credentials.DEFAULT_QUEUE_NAME,
              types: tuple[str, ...] = tuple(ALL_TYPES)) -> str:
    """What an application does before Amazon sends it anything, in raw HTTP: an SQS destination
    (grantless token) and one subscription per type (seller token). Returns the destination id."""
    import httpx

    def token(**form: str) -> str:
        res = httpx.post(sb.lwa_url, data={"client_id": credentials.LWA_APP_ID,
                                           "client_secret": credentials.LWA_CLIENT_SECRET, **form})
        res.raise_for_status()
        return res.json()["access_token"]

    grantless = {"x-amz-access-token": token(grant_type="client_credentials",
                                             scope="sellingpartnerapi::notifications")}
    seller = {"x-amz-access-token": token(grant_type="refresh_token", refresh_token=credentials.SP_API_REFRESH_TOKEN)}
    arn = f"arn:aws:sqs:{credentials.SQS_REGION}:{credentials.SQS_ACCOUNT_ID}:{queue_name}"
    res = httpx.post(f"{sb.base_url}/notifications/v1/destinations", headers=grantless,
                     json={"name": "tests", "resourceSpecification": {"sqs": {"arn": arn}}})
    res.raise_for_status()
    destination = res.json()["payload"]["destinationId"]
    for kind in types:
        res = httpx.post(f"{sb.base_url}/notifications/v1/subscriptions/{kind}", headers=seller,
                         json={"destinationId": destination, "payloadVersion": ALL_TYPES[kind]})
        res.raise_for_status()
    return destination
