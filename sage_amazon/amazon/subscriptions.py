"""Amazon notifications setup, as a seller's integrator does it once per authorisation (`sage-amazon amazon connect`).

Amazon delivers nothing until the application has
1. an SQS destination (`createDestination`, a grantless operation: an LWA client_credentials token with
   scope sellingpartnerapi::notifications, not the seller's token), and
2. one subscription per notification type (`createSubscription`, with the seller's token).

Each consuming flow has its own queue (sage_amazon.amazon.queues: SQS_QUEUE_URL + "-<flow>"), so a backlog of
one type never delays another. `connect()` makes them all exist, idempotently: a missing queue is created, an
existing destination for a queue is reused, a subscription already pointing at its flow's destination is kept,
one pointing elsewhere (an older single queue) is moved (deleteSubscriptionById, then createSubscription). It
returns what is subscribed, for the operator to read.

The notification types are those the flows consume (`CONSUMED_TYPES`); a type no flow consumes is refused (it
would only fill a queue nobody reads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sage_amazon.amazon.queues import CONSUMERS, flow_of, flow_queue_url
from sage_amazon.retrying import RetryPolicy, System, retry_call

if TYPE_CHECKING:  # the CLI imports this module: sage_amazon.amazon.client loads only when connecting
    from sage_amazon.amazon.client import SpApiSettings

DESTINATION_NAME = "sage-amazon"
# notification type -> payload version (schemas/notifications/*.json)
PAYLOAD_VERSIONS = {
    "ORDER_CHANGE": "1.0",
    "REPORT_PROCESSING_FINISHED": "2020-09-04",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "1.0",
    "TRANSACTION_UPDATE": "1.0",
    "FULFILLMENT_ORDER_STATUS": "1.0",
    "FEED_PROCESSING_FINISHED": "2020-09-04",
}
# what the product's sensors read (sage_amazon.amazon.queues.CONSUMERS: one queue per flow)
CONSUMED_TYPES = tuple(t for types in CONSUMERS.values() for t in types)


class ConnectError(RuntimeError):
    """Setup failed; the message says which call and why (never a secret)."""


@dataclass(frozen=True)
class Subscribed:
    notification_type: str
    subscription_id: str
    destination_id: str
    action: str  # "created", "kept" or "moved"


@dataclass(frozen=True)
class Destination:
    flow: str
    queue_url: str
    queue_arn: str
    destination_id: str
    created: bool
    queue_created: bool = False


@dataclass
class Connection:
    destinations: list[Destination] = field(default_factory=list)
    subscriptions: list[Subscribed] = field(default_factory=list)

    def destination(self, flow: str) -> Destination:
        return next(d for d in self.destinations if d.flow == flow)

    def lines(self) -> list[str]:
        out = []
        for d in self.destinations:
            queue = d.queue_url.rstrip("/").rsplit("/", 1)[-1]
            out.append(f"{d.flow}: queue {queue}{' (created)' if d.queue_created else ''}, destination "
                       f"{d.destination_id} -> {d.queue_arn} ({'created' if d.created else 'kept'})")
        out += [f"{s.notification_type}: subscription {s.subscription_id} ({s.action})" for s in self.subscriptions]
        return out


def queue_arn(queue_url: str) -> str:
    """The ARN of an SQS queue from its URL.

    https://sqs.eu-west-1.amazonaws.com/123456789012/name -> arn:aws:sqs:eu-west-1:123456789012:name; a local
    queue (http://127.0.0.1:9324/123456789012/name) gets region us-east-1, as moto names it.
    """
    parts = urlsplit(queue_url)
    path = [p for p in parts.path.split("/") if p]
    if len(path) != 2 or not path[0].isdigit():
        raise ConnectError(f"SQS_QUEUE_URL {queue_url!r} is not a queue URL (…/<account id>/<queue name>)")
    match = re.match(r"^(?:sqs\.)?([a-z]{2}(?:-[a-z]+)+-\d)\.", parts.hostname or "")
    region = match.group(1) if match else "us-east-1"
    return f"arn:aws:sqs:{region}:{path[0]}:{path[1]}"


class _HostTransport:
    """python-amazon-sp-api derives the Host header from an https:// endpoint; send the real one."""

    def __init__(self, inner: Any, host: str) -> None:
        self._inner, self._host = inner, host

    def request(self, method: str, url: str, *, headers: dict | None = None, **kwargs: Any) -> Any:
        return self._inner.request(method, url, headers={**(headers or {}), "host": self._host}, **kwargs)

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._inner.stream(*args, **kwargs)

    def close(self) -> None:
        self._inner.close()


def notifications_client(settings: SpApiSettings) -> Any:
    """python-amazon-sp-api's Notifications client on the configured endpoint and LWA URL."""
    from sp_api.api import Notifications
    from sp_api.auth import AccessTokenClient

    lwa = urlsplit(settings.lwa_endpoint)
    token_client = type("ConfiguredTokenClient", (AccessTokenClient,), {
        "scheme": f"{lwa.scheme}://", "host": lwa.netloc, "path": lwa.path or "/auth/o2/token"})
    marketplace_id = settings.marketplaces[0]
    marketplace = SimpleNamespace(endpoint=settings.endpoint.rstrip("/"), marketplace_id=marketplace_id,
                                  region="us-east-1")
    credentials = {"refresh_token": settings.refresh_token, "lwa_app_id": settings.lwa_app_id,
                   "lwa_client_secret": settings.lwa_client_secret}
    client = Notifications(marketplace, credentials=credentials, auth_token_client_class=token_client,
                           timeout=settings.timeout)
    client._transport = _HostTransport(client._transport, urlsplit(settings.endpoint).netloc)
    return client


def _error(exc: Any) -> tuple[int | None, str]:
    error = getattr(exc, "error", None)
    if isinstance(error, list) and error and isinstance(error[0], dict):
        return getattr(exc, "code", None), f"{error[0].get('code', '')}: {error[0].get('message', '')}"
    return getattr(exc, "code", None), type(exc).__name__


TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
# Notifications operations allow 1 request/s (burst 5): a throttle or a passing 5xx is waited out within this policy
# (sage_amazon.retrying, the connectors' one retry model): 6 tries, waits from 1 s growing to 8 s
CONNECT_RETRY = RetryPolicy(budget=60.0, initial=1.0, max_wait=8.0, max_attempts=6)


class _Transient(Exception):
    """A throttle, a passing 5xx or a cut connection: retried by `_call`."""


def _call(what: str, fn: Any, *args: Any, passthrough: tuple[int, ...] = (), **kwargs: Any) -> Any:
    """fn(*args, **kwargs), again after a throttle, a passing 5xx or a cut connection (CONNECT_RETRY); then one
    ConnectError line. A SellingApiException whose status is in `passthrough` is raised as it is."""
    import httpx
    import requests
    from sp_api.base.exceptions import SellingApiException

    def attempt() -> Any:
        try:
            return fn(*args, **kwargs)
        except SellingApiException as exc:
            status, message = _error(exc)
            if status in passthrough:
                raise
            if status in TRANSIENT_STATUSES:
                raise _Transient(f"HTTP {status} {message}") from exc
            raise (_Forbidden if status == 403 else ConnectError)(f"{what} failed: HTTP {status} {message}") from exc
        except (httpx.TransportError, requests.exceptions.RequestException) as exc:
            raise _Transient(f"{type(exc).__name__} (connection)") from exc

    return retry_call(attempt, system=System("SP-API Notifications", "SP_API_ENDPOINT"), what=what,
                      retry_on=_Transient, policy=CONNECT_RETRY,
                      give_up=lambda exc, _message: ConnectError(f"{what} failed: {exc}"))


def _not_found_as_none(fn: Any) -> Any:
    """`fn`, answering None instead of raising on a 404 (getSubscription: no subscription of that type yet)."""
    from sp_api.base.exceptions import SellingApiException

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except SellingApiException as exc:
            if getattr(exc, "code", None) == 404:
                return None
            raise

    return call


def _find_destination(client: Any, arn: str) -> str | None:
    res = _call("getDestinations (grantless)", client.get_destinations)
    for dest in res.payload or []:
        resource = (dest.get("resource") or {}).get("sqs") or {}
        if resource.get("arn") == arn:
            return str(dest["destinationId"])
    return None


class _Forbidden(ConnectError):
    pass


def connect(settings: SpApiSettings, queue_url: str, types: tuple[str, ...] = CONSUMED_TYPES, *,
            client: Any = None, create_queues: bool = True) -> Connection:
    """Make each flow's queue, its SQS destination and one subscription per type exist; returns what is subscribed.
    `queue_url` is the base (SQS_QUEUE_URL): each type goes to the queue of the flow consuming it.

    A 403 first drops python-amazon-sp-api's cached LWA tokens (a token of another authorisation or an
    earlier sandbox) and tries once more; a second 403 is the answer."""
    try:
        return _connect(settings, queue_url, types, client, create_queues)
    except _Forbidden:
        from sp_api.auth import access_token_client

        access_token_client.cache.clear()
        access_token_client.grantless_cache.clear()
        try:
            return _connect(settings, queue_url, types, client, create_queues)
        except _Forbidden as exc:
            raise ConnectError(str(exc)) from exc


def _flows(types: tuple[str, ...]) -> dict[str, list[str]]:
    """flow -> the requested types it consumes (in the order asked); one line for a type nobody consumes."""
    unknown = [t for t in types if t not in PAYLOAD_VERSIONS]
    if unknown:
        raise ConnectError(f"unknown notification type(s): {', '.join(unknown)} "
                           f"(known: {', '.join(PAYLOAD_VERSIONS)})")
    unconsumed = [t for t in types if flow_of(t) is None]
    if unconsumed:
        raise ConnectError(f"no flow consumes {', '.join(unconsumed)}: not subscribed (it would only fill a queue "
                           f"nobody reads; consumed: {', '.join(CONSUMED_TYPES)})")
    flows: dict[str, list[str]] = {}
    for kind in dict.fromkeys(types):
        flows.setdefault(flow_of(kind), []).append(kind)
    return flows


def _ensure_queue(url: str, arn: str) -> bool:
    from sage_amazon.amazon.queues import ensure_queue, sqs_client

    region = arn.split(":")[3]
    try:
        return ensure_queue(url, arn, sqs_client(url, region=region))
    except Exception as exc:  # noqa: BLE001 - boto3/botocore errors: one line naming the queue
        raise ConnectError(f"SQS queue {url} could not be created: {type(exc).__name__}: {exc}") from exc


def _destination(client: Any, arn: str) -> tuple[str, bool]:
    """(the destination of queue `arn`, whether it was created now)."""
    from sp_api.base.exceptions import SellingApiException

    destination_id = _find_destination(client, arn)
    if destination_id is not None:
        return destination_id, False
    try:
        res = _call("createDestination (grantless)", client.create_destination, name=DESTINATION_NAME, arn=arn,
                    passthrough=(409,))
        return str(res.payload["destinationId"]), True
    except SellingApiException as exc:
        if getattr(exc, "code", None) != 409:  # 409: created meanwhile by another run
            status, message = _error(exc)
            raise (_Forbidden if status == 403 else ConnectError)(
                f"createDestination (grantless) failed: HTTP {status} {message}") from exc
        destination_id = _find_destination(client, arn)
        if destination_id is None:
            raise ConnectError("createDestination answered 409 but no destination has this queue") from exc
        return destination_id, False


def _subscribe(client: Any, kind: str, destination_id: str) -> Subscribed:
    from sp_api.base.exceptions import SellingApiException

    try:
        existing = _call(f"getSubscription {kind}", _not_found_as_none(client.get_subscription), kind)
        existing = existing.payload if existing is not None else None
    except SellingApiException as exc:
        status, message = _error(exc)
        raise (_Forbidden if status == 403 else ConnectError)(
            f"getSubscription {kind} failed: HTTP {status} {message}") from exc
    action = "created"
    if existing and existing.get("subscriptionId"):
        if existing.get("destinationId") == destination_id:
            return Subscribed(kind, str(existing["subscriptionId"]), destination_id, "kept")
        _call(f"deleteSubscriptionById {kind}", client.delete_notification_subscription, kind,
              existing["subscriptionId"])
        action = "moved"
    res = _call(f"createSubscription {kind}", client.create_subscription, kind, destination_id=destination_id,
                payload_version=PAYLOAD_VERSIONS[kind])  # the library's name for payloadVersion
    return Subscribed(kind, str(res.payload["subscriptionId"]), destination_id, action)


def _connect(settings: SpApiSettings, queue_url: str, types: tuple[str, ...], client: Any,
             create_queues: bool) -> Connection:
    flows = _flows(types)
    queue_arn(queue_url)  # the base URL itself is checked first: one line naming SQS_QUEUE_URL
    client = client or notifications_client(settings)
    connection = Connection()
    for flow, kinds in flows.items():
        url = flow_queue_url(queue_url, flow)
        arn = queue_arn(url)
        queue_created = _ensure_queue(url, arn) if create_queues else False
        destination_id, created = _destination(client, arn)
        connection.destinations.append(Destination(flow, url, arn, destination_id, created, queue_created))
        connection.subscriptions += [_subscribe(client, kind, destination_id) for kind in kinds]
    return connection


def connect_accounts(types: tuple[str, ...] = CONSUMED_TYPES, queue_url: str | None = None,
                     accounts_file: str | None = None) -> list[tuple[str, Connection]]:
    """`connect` for every configured account (SAGE_AMAZON_ACCOUNTS_FILE: one authorisation per region, each on
    its own host); all deliver to the same flow queues. Without the file: the one SP_API_* account."""
    from sage_amazon import config
    from sage_amazon.amazon.accounts import load

    queue = queue_url or config.load().sqs_queue_url
    return [(f"{a.name} ({a.region})" if a.region else a.name, connect(a.settings, queue, types))
            for a in load(accounts_file)]


# ------------------------------------------------------------------------------------------ command
def _command_group() -> Any:
    import click

    from sage_amazon.cli_support import OperatorError

    @click.group("amazon", help="Set up the Amazon side of the integration (once per seller authorisation).")
    def amazon() -> None:
        pass

    @amazon.command("connect")
    @click.option("--type", "types", multiple=True, metavar="NOTIFICATION_TYPE",
                  help=f"Notification type to subscribe (repeatable; default: {', '.join(CONSUMED_TYPES)}).")
    @click.option("--queue-url", default=None, help="Base SQS queue URL; each flow's queue is it + '-<flow>' (default: SQS_QUEUE_URL).")
    def connect_command(types: tuple[str, ...], queue_url: str | None) -> None:
        """Create each flow's SQS queue and destination (grantless) and the subscriptions it consumes; idempotent."""
        from sage_amazon.config import ConfigError

        try:
            connections = connect_accounts(tuple(types) or CONSUMED_TYPES, queue_url)
        except (ConnectError, ConfigError) as exc:
            raise OperatorError(str(exc)) from None
        for name, connection in connections:
            if len(connections) > 1:
                click.echo(f"account {name}:")
            for line in connection.lines():
                click.echo(line)
            click.echo(f"subscribed: {', '.join(s.notification_type for s in connection.subscriptions)}")

    return amazon


amazon_group = _command_group()
