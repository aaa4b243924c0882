"""SOAP 1.1 RPC/encoded envelopes of CAdxWebServiceXmlCC, as Syracuse reads and writes them."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAPENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
WSS = "http://www.adonix.com/WSS"
NSMAP = {"soapenv": SOAPENV, "xsd": XSD, "xsi": XSI, "soapenc": SOAPENC, "wss": WSS}
OPERATIONS = ("run", "save", "delete", "read", "query", "getDescription", "modify", "actionObject",
              "deleteLines", "insertLines", "getDataXmlSchema")


class BadEnvelope(Exception):
    """Not a SOAP call we understand: answered with a SOAP Fault (HTTP 500), as Axis does."""


@dataclass
class Call:
    operation: str
    context: dict[str, str]
    public_name: str = ""
    object_xml: str = ""
    input_xml: str = ""
    keys: list[tuple[str, str]] = field(default_factory=list)
    list_size: int = 0

    @property
    def options(self) -> dict[str, str]:
        opts = {}
        for part in self.context.get("requestConfig", "").split("&"):
            name, _, value = part.partition("=")
            if name.strip():
                opts[name.strip()] = value.strip()
        return opts


def _local(tag) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _deref(node, ids: dict):
    """Axis encodes structs and arrays by reference (href="#id0" -> <multiRef id="id0">)."""
    href = node.get("href")
    if href and href.startswith("#"):
        return ids.get(href[1:], node)
    return node


def parse_call(body: bytes) -> Call:
    try:
        root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise BadEnvelope(f"XML parse error: {exc}") from exc
    if _local(root.tag) != "Envelope":
        raise BadEnvelope("not a SOAP envelope")
    soap_body = next((c for c in root if _local(c.tag) == "Body"), None)
    if soap_body is None:
        raise BadEnvelope("no SOAP Body")
    elements = [c for c in soap_body if isinstance(c.tag, str)]
    ids = {e.get("id"): e for e in root.iter() if isinstance(e.tag, str) and e.get("id")}
    request = next((e for e in elements if _local(e.tag) in OPERATIONS and not e.get("id")), None)
    if request is None:
        names = ", ".join(_local(e.tag) for e in elements) or "nothing"
        raise BadEnvelope(f"no operation of CAdxWebServiceXmlCC in the Body (found {names})")
    call = Call(operation=_local(request.tag), context={})
    for part in request:
        name = _local(part.tag)
        part = _deref(part, ids)
        if name == "callContext":
            for item in part:
                item = _deref(item, ids)
                call.context[_local(item.tag)] = (item.text or "").strip()
        elif name == "publicName":
            call.public_name = (part.text or "").strip()
        elif name == "objectXml":
            call.object_xml = part.text or ""
        elif name == "inputXml":
            call.input_xml = part.text or ""
        elif name == "listSize":
            text = (part.text or "").strip()
            call.list_size = int(text) if text.lstrip("-").isdigit() else 0
        elif name == "objectKeys":
            for item in part:
                item = _deref(item, ids)
                key = value = ""
                for kv in item:
                    kv = _deref(kv, ids)
                    if _local(kv.tag) == "key":
                        key = (kv.text or "").strip()
                    elif _local(kv.tag) == "value":
                        value = (kv.text or "").strip()
                if key:
                    call.keys.append((key, value))
    return call


TECHNICAL_INFOS = (
    ("busy", "boolean"), ("changeLanguage", "boolean"), ("changeUserId", "boolean"),
    ("flushAdx", "boolean"), ("loadWebsDuration", "double"), ("nbDistributionCycle", "int"),
    ("poolDistribDuration", "double"), ("poolEntryIdx", "int"), ("poolExecDuration", "double"),
    ("poolRequestDuration", "double"), ("poolWaitDuration", "double"), ("processReport", "string"),
    ("processReportSize", "int"), ("reloadWebs", "boolean"), ("resumitAfterDBOpen", "boolean"),
    ("rowInDistribStack", "int"), ("totalDuration", "double"), ("traceRequest", "string"),
    ("traceRequestSize", "int"),
)


def render_result(operation: str, status: int, messages: list[tuple[int, str]], result: str | None,
                  infos: dict[str, object]) -> bytes:
    env = etree.Element(f"{{{SOAPENV}}}Envelope", nsmap=NSMAP)
    body = etree.SubElement(env, f"{{{SOAPENV}}}Body")
    response = etree.SubElement(body, f"{{{WSS}}}{operation}Response")
    response.set(f"{{{SOAPENV}}}encodingStyle", SOAPENC)
    ret = etree.SubElement(response, f"{operation}Return")
    ret.set(f"{{{XSI}}}type", "wss:CAdxResultXml")
    msgs = etree.SubElement(ret, "messages")
    msgs.set(f"{{{XSI}}}type", "soapenc:Array")
    msgs.set(f"{{{SOAPENC}}}arrayType", f"wss:CAdxMessage[{len(messages)}]")
    for idx, _ in enumerate(messages):
        etree.SubElement(msgs, "messages", href=f"#id{idx}")
    res = etree.SubElement(ret, "resultXml")
    res.set(f"{{{XSI}}}type", "xsd:string")
    if result is None:
        res.set(f"{{{XSI}}}nil", "true")
    else:
        res.text = result
    st = etree.SubElement(ret, "status")
    st.set(f"{{{XSI}}}type", "xsd:int")
    st.text = str(status)
    tech = etree.SubElement(ret, "technicalInfos")
    tech.set(f"{{{XSI}}}type", "wss:CAdxTechnicalInfos")
    for name, xtype in TECHNICAL_INFOS:
        node = etree.SubElement(tech, name)
        node.set(f"{{{XSI}}}type", f"xsd:{xtype}")
        value = infos.get(name, {"boolean": False, "double": 0, "int": 0, "string": ""}[xtype])
        node.text = str(value).lower() if isinstance(value, bool) else str(value)
    for idx, (mtype, text) in enumerate(messages):
        ref = etree.SubElement(body, "multiRef", id=f"id{idx}")
        ref.set(f"{{{SOAPENC}}}root", "0")
        ref.set(f"{{{SOAPENV}}}encodingStyle", SOAPENC)
        ref.set(f"{{{XSI}}}type", "wss:CAdxMessage")
        m = etree.SubElement(ref, "message")
        m.set(f"{{{XSI}}}type", "xsd:string")
        m.text = text
        ty = etree.SubElement(ref, "type")
        ty.set(f"{{{XSI}}}type", "xsd:string")
        ty.text = str(mtype)
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")


def render_fault(code: str, text: str) -> bytes:
    env = etree.Element(f"{{{SOAPENV}}}Envelope", nsmap={"soapenv": SOAPENV})
    body = etree.SubElement(env, f"{{{SOAPENV}}}Body")
    fault = etree.SubElement(body, f"{{{SOAPENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soapenv:{code}"
    etree.SubElement(fault, "faultstring").text = text
    return etree.tostring(env, xml_declaration=True, encoding="UTF-8")
