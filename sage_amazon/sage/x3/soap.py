"""The X3 SOAP client: CAdxWebServiceXmlCC over httpx, envelopes built and read with lxml.

Transport outcomes are classified here, because the safe reaction differs: nothing sent (retry),
something sent and no answer (look up before re-sending), an answer (read status and messages).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import httpx
from lxml import etree

from ..errors import MalformedRequest, SageConfigurationError, SageTransientError, SageUnknownOutcome

SOAP_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSS = "http://www.adonix.com/WSS"
NSMAP = {"soapenv": SOAPENV, "xsi": XSI, "xsd": XSD, "soapenc": SOAPENC, "wss": WSS}
WRITE_OPERATIONS = frozenset({"save", "modify", "delete", "run", "actionObject", "insertLines", "deleteLines"})
POOL_BUSY = "No web services accepted"


@dataclass(frozen=True)
class SoapResult:
    status: int
    messages: tuple[tuple[int, str], ...]
    result_xml: str | None

    @property
    def errors(self) -> tuple[str, ...]:
        return tuple(text for kind, text in self.messages if kind == 3)


def login_refused(user: str, url: str, status: int) -> str:
    """The one line of a refused login (never the password)."""
    return (f"login refused for SAGE_X3_USER={user} at SAGE_X3_URL={url} (HTTP {status}): "
            "check SAGE_X3_USER and SAGE_X3_PASSWORD")


def not_reachable(url: str, exc: BaseException) -> str:
    return f"Sage X3 not reachable at SAGE_X3_URL={url}: {type(exc).__name__}"


class X3Soap:
    def __init__(self, url: str, user: str, password: str, pool: str, *, language: str = "ENG",
                 timeout: float = 30.0, gate: threading.BoundedSemaphore | None = None,
                 http: httpx.Client | None = None) -> None:
        self.url, self.user = url.rstrip("/"), user
        self.endpoint = url.rstrip("/") + SOAP_PATH
        self.pool, self.language = pool, language
        self.gate = gate or threading.BoundedSemaphore(4)
        self.http = http or httpx.Client(auth=(user, password), timeout=timeout)

    def envelope(self, operation: str, public_name: str, *, object_xml: str | None = None,
                 keys: list[tuple[str, str]] | None = None, list_size: int | None = None) -> bytes:
        env = etree.Element(f"{{{SOAPENV}}}Envelope", nsmap=NSMAP)
        etree.SubElement(env, f"{{{SOAPENV}}}Header")
        body = etree.SubElement(env, f"{{{SOAPENV}}}Body")
        op = etree.SubElement(body, f"{{{WSS}}}{operation}")
        op.set(f"{{{SOAPENV}}}encodingStyle", SOAPENC)
        ctx = etree.SubElement(op, "callContext")
        ctx.set(f"{{{XSI}}}type", "wss:CAdxCallContext")
        for name, value in (("codeLang", self.language), ("poolAlias", self.pool), ("poolId", ""),
                            ("requestConfig", "adxwss.optreturn=XML")):
            _string(ctx, name, value)
        _string(op, "publicName", public_name)
        if keys is not None:
            arr = etree.SubElement(op, "objectKeys")
            arr.set(f"{{{XSI}}}type", "soapenc:Array")
            arr.set(f"{{{SOAPENC}}}arrayType", f"wss:CAdxParamKeyValue[{len(keys)}]")
            for key, value in keys:
                item = etree.SubElement(arr, "item")
                item.set(f"{{{XSI}}}type", "wss:CAdxParamKeyValue")
                _string(item, "key", key)
                _string(item, "value", value)
        if list_size is not None:
            node = etree.SubElement(op, "listSize")
            node.set(f"{{{XSI}}}type", "xsd:int")
            node.text = str(list_size)
        if object_xml is not None:
            _string(op, "objectXml", object_xml)  # lxml escapes & < > in the text
        return etree.tostring(env, xml_declaration=True, encoding="UTF-8")

    def call(self, operation: str, public_name: str, **params) -> SoapResult:
        payload = self.envelope(operation, public_name, **params)
        is_write = operation in WRITE_OPERATIONS
        what = f"{operation} {public_name}"
        with self.gate:
            try:
                response = self.http.post(self.endpoint, content=payload,
                                          headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                raise SageTransientError(not_reachable(self.url, exc), refused=what) from exc
            except httpx.TransportError as exc:  # sent, no (complete) answer
                reason = f"no reply from Sage X3 at SAGE_X3_URL={self.url} ({type(exc).__name__})"
                if is_write:
                    raise SageUnknownOutcome(reason, refused=what) from exc
                raise SageTransientError(reason, refused=what) from exc
        return self._read(response, what, is_write)

    def _read(self, response: httpx.Response, what: str, is_write: bool) -> SoapResult:
        if response.status_code == 401:
            raise SageConfigurationError(login_refused(self.user, self.url, 401), refused=what)
        if response.status_code == 403:
            raise SageConfigurationError(f"SAGE_X3_USER={self.user} may not call the web services at "
                                         f"SAGE_X3_URL={self.url} (HTTP 403)", refused=what)
        if response.status_code == 404:
            raise SageConfigurationError(f"no X3 web service at SAGE_X3_URL={self.url} (HTTP 404)", refused=what)
        if 400 <= response.status_code < 500:
            raise MalformedRequest(f"HTTP {response.status_code}: {_fault_text(response.content)}", refused=what)
        if response.status_code != 200:
            fault = _fault_text(response.content)
            if POOL_BUSY.lower() in fault.lower() or response.status_code == 503:
                raise SageTransientError(f"X3 pool busy: {fault or response.status_code}", refused=what)
            if fault.startswith("Client:") or "parse" in fault.lower():
                raise MalformedRequest(f"SOAP fault: {fault}", refused=what)
            if is_write:
                raise SageUnknownOutcome(f"HTTP {response.status_code} {fault}".strip(), refused=what)
            raise SageTransientError(f"HTTP {response.status_code} {fault}".strip(), refused=what)
        try:
            return parse_result(response.content)
        except ValueError as exc:
            if is_write:
                raise SageUnknownOutcome(f"unreadable X3 reply: {exc}", refused=what) from exc
            raise SageTransientError(f"unreadable X3 reply: {exc}", refused=what) from exc


def _string(parent, name: str, value: str):
    node = etree.SubElement(parent, name)
    node.set(f"{{{XSI}}}type", "xsd:string")
    node.text = value
    return node


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _fault_text(content: bytes) -> str:
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False))
    except etree.XMLSyntaxError:
        return content[:200].decode("utf-8", "replace").strip()
    code = next((e.text or "" for e in root.iter() if _local(e.tag) == "faultcode"), "")
    text = next((e.text or "" for e in root.iter() if _local(e.tag) == "faultstring"), "")
    return f"{code.split(':')[-1]}: {text}" if code else text


def parse_result(content: bytes) -> SoapResult:
    """CAdxResultXml from a response envelope; Axis multiRef references are followed."""
    try:
        root = etree.fromstring(content, etree.XMLParser(resolve_entities=False, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise ValueError(str(exc)) from exc
    ids = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}

    def deref(node):
        href = node.get("href", "")
        return ids.get(href[1:], node) if href.startswith("#") else node

    ret = next((e for e in root.iter() if _local(e.tag).endswith("Return")), None)
    if ret is None:
        raise ValueError("no ...Return element in the reply")
    ret = deref(ret)
    status, messages, result = None, [], None
    for part in ret:
        name = _local(part.tag)
        part = deref(part)
        if name == "status":
            status = int((part.text or "0").strip())
        elif name == "resultXml":
            result = None if part.get(f"{{{XSI}}}nil") == "true" else (part.text or "")
        elif name == "messages":
            for msg in part:
                msg = deref(msg)
                fields = {_local(c.tag): (deref(c).text or "") for c in msg}
                kind = fields.get("type", "3").strip()
                messages.append((int(kind) if kind.isdigit() else 3, fields.get("message", "").strip()))
    if status is None:
        raise ValueError("no status in the reply")
    return SoapResult(status, tuple(messages), result)
