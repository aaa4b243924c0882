"""The Syracuse server of the sandbox: SOAP CAdxWebServiceXmlCC, its WSDL and api1 REST reads."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from dataclasses import dataclass, field
from importlib import resources

from sqlalchemy import Engine

from . import envelope, objects, rest
from .faults import Faults, Stats
from .layouts import layout as load_layout
from .objxml import Refused, parse_object, render_description, render_object, render_rows
from .subprograms import SUBPROGRAMS

SOAP_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
WSDL_PATH = "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
WRITES = {"save", "modify", "delete"}


@dataclass
class X3Settings:
    folder: str = "SEED"
    pools: tuple[str, ...] = ("SEED",)  # classic SOAP pool aliases (case-sensitive), all on `folder`
    user: str = "admin"
    password: str = "admin"
    layout: str = "standard"
    pool_size: int = 4
    group_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # {"SOH": {"SOH4_1": "YLINES"}}
    faults: Faults = field(default_factory=Faults)
    stats: Stats = field(default_factory=Stats)


class Syracuse:
    def __init__(self, engine: Engine, settings: X3Settings) -> None:
        self.engine, self.settings = engine, settings
        self.publications = load_layout(settings.layout, settings.group_ids)
        # X3 channels of a pool run one request each; SQLite wants one writer: serialise the work
        self.lock = threading.Lock()
        self.pool = threading.BoundedSemaphore(settings.pool_size)

    def authorised(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return secrets.compare_digest(user, self.settings.user) and secrets.compare_digest(
            password, self.settings.password)

    def soap(self, call: envelope.Call) -> tuple[int, list[tuple[int, str]], str | None, dict]:
        started = time.perf_counter()
        fmt = "JSON" if call.options.get("adxwss.optreturn", "").upper() == "JSON" else "XML"
        alias = call.context.get("poolAlias", "")
        if alias not in self.settings.pools:
            return 0, [(3, f"No classic web service pool match to '{alias}'")], None, {}
        waited = time.perf_counter()
        with self.pool:
            waited = time.perf_counter() - waited
            try:
                status, messages, result = 1, [], self._dispatch(call, fmt)
            except Refused as refused:
                status, messages, result = 0, [(3, m) for m in refused.messages], None
        total = (time.perf_counter() - started) * 1000
        infos = {"poolWaitDuration": round(waited * 1000, 3), "poolExecDuration": round(total, 3),
                 "totalDuration": round(total, 3), "poolEntryIdx": 0}
        return status, messages, result, infos

    def _dispatch(self, call: envelope.Call, fmt: str) -> str:
        pub = self.publications.get(call.public_name)
        op = call.operation
        if op in ("actionObject", "deleteLines", "insertLines", "getDataXmlSchema"):
            raise Refused(f"{op} : operation not available in this sandbox")
        if op == "run":
            program = SUBPROGRAMS.get(call.public_name)
            if program is None:
                raise Refused(f"Web service {call.public_name} does not exist")
            with self.lock, self.engine.begin() as conn:
                return program(conn, call.input_xml, fmt)
        if pub is None:
            raise Refused(f"Web service {call.public_name} does not exist")
        if op == "getDescription":
            return render_description(pub, fmt)
        handler = objects.HANDLERS[pub.name]
        with self.lock, self.engine.begin() as conn:
            if op == "save":
                data = parse_object(call.object_xml, pub)
                key = handler.save(conn, pub, data, self.settings.user)
                head, lines = handler.load(conn, self._keys(pub, key))
            elif op == "modify":
                data = parse_object(call.object_xml, pub)
                key = handler.modify(conn, pub, call.keys, data, self.settings.user)
                head, lines = handler.load(conn, self._keys(pub, key))
            elif op == "read":
                head, lines = handler.load(conn, call.keys)
            elif op == "delete":
                handler.delete(conn, call.keys)
                return ""
            elif op == "query":
                rows = handler.query(conn, call.keys, call.list_size)
                names = objects.QUERY_FIELDS[pub.name]
                fields = [next(f for g in pub.groups for f in g.fields if f.name == n) for n in names]
                return render_rows(rows, fields, fmt)
            else:  # pragma: no cover - OPERATIONS is closed
                raise Refused(f"{op} : unknown operation")
        return render_object(pub, head, lines, fmt)

    @staticmethod
    def _keys(pub, key: str) -> list[tuple[str, str]]:
        return [({"SOH": "SOHNUM", "BPC": "BPCNUM", "ITM": "ITMREF", "SMR": "VCRNUM", "SMO": "VCRNUM"}
                 .get(pub.name, "NUM"), key)]


def create_app(engine: Engine, settings: X3Settings):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    syracuse = Syracuse(engine, settings)
    wsdl_template = resources.files(__package__).joinpath("CAdxWebServiceXmlCC.wsdl").read_text("utf-8")
    unauthorised = {"WWW-Authenticate": 'Basic realm="Sage X3 Syracuse"'}
    xml_type = "text/xml; charset=utf-8"

    def wsdl(request: Request) -> Response:
        if not syracuse.authorised(request.headers.get("authorization")):
            return Response("Unauthorized", status_code=401, headers=unauthorised)
        location = str(request.base_url).rstrip("/") + SOAP_PATH
        return Response(wsdl_template.replace("{{LOCATION}}", location), media_type=xml_type)

    def soap(request: Request, body: bytes) -> Response:
        if not syracuse.authorised(request.headers.get("authorization")):
            return Response("Unauthorized", status_code=401, headers=unauthorised)
        if settings.faults.take("pool_busy"):
            return Response(envelope.render_fault("Server", "No web services accepted"), status_code=500,
                            media_type=xml_type)
        try:
            call = envelope.parse_call(body)
        except envelope.BadEnvelope as exc:
            return Response(envelope.render_fault("Client", str(exc)), status_code=500, media_type=xml_type)
        if settings.faults.queued:  # X3 runs a request the client has stopped waiting for all the same
            time.sleep(settings.faults.queued)
        status, messages, result, infos = syracuse.soap(call)
        if settings.faults.slow:
            time.sleep(settings.faults.slow)
        payload = envelope.render_result(call.operation, status, messages, result, infos)
        if call.operation in WRITES and status == 1 and settings.faults.take("lose_replies"):
            return LostReply(payload)
        return Response(payload, media_type=xml_type)

    async def soap_endpoint(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await request.body()
        settings.stats.enter()
        try:
            return await run_in_threadpool(soap, request, body)
        finally:
            settings.stats.leave()

    def api1(request: Request) -> Response:
        if not syracuse.authorised(request.headers.get("authorization")):
            return JSONResponse(rest.diagnoses("Unauthorized"), status_code=401, headers=unauthorised)
        folder, target = request.path_params["folder"], request.path_params["target"]
        if folder != settings.folder:
            return JSONResponse(rest.diagnoses(f"Endpoint {folder} does not exist"), status_code=404)
        cls, _, key = target.partition("(")
        key = key.rstrip(")").strip("'")
        if cls not in rest.CLASSES:
            return JSONResponse(rest.diagnoses(f"Class {cls} does not exist"), status_code=404)
        params = dict(request.query_params)
        representation = params.pop("representation", "")
        rep, _, facet = representation.partition(".")
        if rep != cls or facet not in ("$query", "$details", "$lookup"):
            return JSONResponse(rest.diagnoses(f"Representation {representation!r} does not match class {cls}"),
                                status_code=400)
        try:
            with engine.connect() as conn:
                if key:
                    doc = rest.details(conn, cls, key)
                else:
                    base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
                    doc = rest.query(conn, cls, {"representation": representation, **params}, base)
        except rest.RestError as err:
            return JSONResponse(rest.diagnoses(str(err)), status_code=err.status)
        return Response(_json(doc), media_type="application/json; charset=utf-8")

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "folder": settings.folder, "layout": settings.layout})

    app = Starlette(routes=[
        Route(WSDL_PATH, wsdl, methods=["GET"]),
        Route(SOAP_PATH, soap_endpoint, methods=["POST"]),
        Route("/api1/x3/erp/{folder}/{target}", api1, methods=["GET"]),
        Route("/sandbox/health", health, methods=["GET"]),
    ])
    app.state.syracuse = syracuse
    return app


class LostReply:
    """Commits happened; the reply dies on the wire (headers sent, body cut short, connection closed)."""

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/xml; charset=utf-8"),
                                (b"content-length", str(len(self.payload)).encode())]})
        await send({"type": "http.response.body", "body": self.payload[: len(self.payload) // 3],
                    "more_body": True})
        # returning with the body unfinished makes uvicorn drop the connection



def _json(doc) -> bytes:
    """JSON with Decimals written as exact numbers (the standard encoder would need floats)."""
    import json
    from decimal import Decimal

    def enc(value) -> str:
        if isinstance(value, Decimal):
            text = format(value.normalize(), "f")
            return text if text not in ("-0",) else "0"
        if isinstance(value, dict):
            return "{" + ",".join(f"{json.dumps(str(k))}:{enc(v)}" for k, v in value.items()) + "}"
        if isinstance(value, list | tuple):
            return "[" + ",".join(enc(v) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False)

    return enc(doc).encode("utf-8")
