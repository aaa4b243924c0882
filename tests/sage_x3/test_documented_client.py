"""The sandbox seen by a SOAP client written from X3's documentation, knowing nothing of this project:
zeep reading the WSDL, and a raw envelope copied from Sage's examples. No project code is used to
talk to the sandbox here."""

from __future__ import annotations

import re

import httpx
import pytest
import requests
from lxml import etree

WSDL_PATH = "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC?wsdl"
SOAP_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
WSS = "{http://www.adonix.com/WSS}"
# The SOAP 1.1 encoding schema every Axis WSDL imports; served from zeep's cache because the test
# machine is offline (a client on the internet downloads it from schemas.xmlsoap.org).
SOAPENC_SCHEMA = b"""<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:tns="http://schemas.xmlsoap.org/soap/encoding/"
  targetNamespace="http://schemas.xmlsoap.org/soap/encoding/">
 <xs:attribute name="root"><xs:simpleType><xs:restriction base="xs:boolean"/></xs:simpleType></xs:attribute>
 <xs:attributeGroup name="commonAttributes"><xs:attribute name="id" type="xs:ID"/>
  <xs:attribute name="href" type="xs:anyURI"/><xs:anyAttribute namespace="##other" processContents="lax"/>
 </xs:attributeGroup>
 <xs:attribute name="arrayType" type="xs:string"/>
 <xs:attribute name="offset" type="xs:string"/>
 <xs:attributeGroup name="arrayAttributes"><xs:attribute ref="tns:arrayType"/><xs:attribute ref="tns:offset"/>
 </xs:attributeGroup>
 <xs:group name="Array"><xs:sequence>
  <xs:any namespace="##any" minOccurs="0" maxOccurs="unbounded" processContents="lax"/></xs:sequence></xs:group>
 <xs:element name="Array" type="tns:Array"/>
 <xs:complexType name="Array"><xs:group ref="tns:Array" minOccurs="0"/>
  <xs:attributeGroup ref="tns:arrayAttributes"/><xs:attributeGroup ref="tns:commonAttributes"/></xs:complexType>
</xs:schema>"""


def zeep_client(x3, user, password):
    from zeep import Client, Settings
    from zeep.cache import InMemoryCache
    from zeep.transports import Transport

    session = requests.Session()
    session.auth = (user, password)
    cache = InMemoryCache()
    cache.add("http://schemas.xmlsoap.org/soap/encoding/", SOAPENC_SCHEMA)
    return Client(x3.url + WSDL_PATH, transport=Transport(session=session, cache=cache),
                  settings=Settings(strict=True))


def context(pool="SEED"):
    return {"codeLang": "ENG", "poolAlias": pool, "poolId": "", "requestConfig": "adxwss.optreturn=XML"}


def groups_of(description_xml: str) -> dict[str, tuple[str, bool]]:
    """field name -> (group id, is a table), read from getDescription."""
    root = etree.fromstring(description_xml.encode())
    out = {}
    for node in root.iter("GRP", "TAB"):
        for fld in node.iter("FLD"):
            out.setdefault(fld.get("NAME"), (node.get("NAME"), node.tag == "TAB"))
    return out


def sales_order_xml(where: dict, header: dict, lines: list[dict]) -> str:
    param = etree.Element("PARAM")
    grps: dict[str, etree._Element] = {}
    for name, value in header.items():
        gid, _ = where[name]
        grp = grps.get(gid)
        if grp is None:
            grp = grps[gid] = etree.SubElement(param, "GRP", ID=gid)
        etree.SubElement(grp, "FLD", NAME=name).text = value
    tab = etree.SubElement(param, "TAB", ID=where["ITMREF"][0], SIZE=str(len(lines)))
    for num, line in enumerate(lines, 1):
        lin = etree.SubElement(tab, "LIN", NUM=str(num))
        for name, value in line.items():
            etree.SubElement(lin, "FLD", NAME=name).text = value
    return etree.tostring(param, encoding="unicode")


def test_zeep_client_from_the_wsdl(x3):
    client = zeep_client(x3, x3.user, x3.password)
    service = client.service

    desc = service.getDescription(context(), "SOH")
    assert desc.status == 1
    where = groups_of(desc.resultXml)
    assert where["ITMREF"][1] and not where["SOHNUM"][1]

    xml = sales_order_xml(
        where,
        {"SALFCY": "US01", "SOHTYP": "SON", "SOHNUM": "", "BPCORD": "AMZUS", "ORDDAT": "20261120",
         "CUSORDREF": "DOC-CLIENT-1", "CUR": "USD"},
        [{"ITMREF": "NW-STOVE-CMP", "QTY": "3", "GROPRI": "39.99"}])
    saved = service.save(context(), "SOH", xml)
    assert saved.status == 1, saved.messages
    result = etree.fromstring(saved.resultXml.encode())
    sohnum = result.find(f".//GRP[@ID='{where['SOHNUM'][0]}']/FLD[@NAME='SOHNUM']").text
    assert sohnum and sohnum.startswith("SON")

    key_type = client.get_type(f"{WSS}CAdxParamKeyValue")
    key_array = client.get_type(f"{WSS}ArrayOfCAdxParamKeyValue")
    keys = key_array([key_type(key="SOHNUM", value=sohnum)])
    read = service.read(context(), "SOH", keys)
    assert read.status == 1
    back = etree.fromstring(read.resultXml.encode())
    assert back.find(".//FLD[@NAME='CUSORDREF']").text == "DOC-CLIENT-1"
    assert [f.text for f in back.iter("FLD") if f.get("NAME") == "ITMREF"] == ["NW-STOVE-CMP"]

    query = service.query(context(), "BPC", key_array([key_type(key="BPCSTA", value="2")]), 10)
    assert query.status == 1
    rows = etree.fromstring(query.resultXml.encode()).findall("LIN")
    assert {"AMZDE", "AMZGB", "AMZUS"} <= {r.find("FLD[@NAME='BPCNUM']").text for r in rows}

    json_ctx = {**context(), "requestConfig": "adxwss.optreturn=JSON&adxwss.beautify=true"}
    as_json = service.read(json_ctx, "BPC", key_array([key_type(key="BPCNUM", value="AMZGB")]))
    assert as_json.status == 1 and '"CUR": "GBP"' in as_json.resultXml

    stock = service.run(context(), "YSTKAVL",
                        "<PARAM><GRP ID='GRP1'><FLD NAME='STOFCY'>US01</FLD><FLD NAME='ITMREF'>NW-KNIFE-MT</FLD>"
                        "</GRP></PARAM>")
    assert stock.status == 1
    out = {f.get("NAME"): f.text for f in etree.fromstring(stock.resultXml.encode()).iter("FLD")}
    [mvt] = x3.rows("ITMMVT", STOFCY="US01", ITMREF="NW-KNIFE-MT")
    assert (out["O_STAT"], out["O_AVAILABLE"]) == ("1", format(mvt["PHYSTO_0"] - mvt["PHYALL_0"], "f"))
    unpublished = service.run(context(), "NOPROG", "<PARAM/>")
    assert unpublished.status == 0 and "NOPROG" in unpublished.messages[0].message

    wrong_pool = service.save(context("NOPOOL"), "SOH", xml)
    assert wrong_pool.status == 0
    assert [(m.type, m.message) for m in wrong_pool.messages] == [
        ("3", "No classic web service pool match to 'NOPOOL'")]

    bad_item = service.save(context(), "SOH", xml.replace("NW-STOVE-CMP", "NO-SUCH-ITEM"))
    assert bad_item.status == 0 and bad_item.resultXml is None
    assert any(m.type == "3" and "NO-SUCH-ITEM" in m.message and "does not exist" in m.message
               for m in bad_item.messages)


def test_wrong_credentials_are_http_401(x3):
    from zeep.exceptions import TransportError

    client = zeep_client(x3, x3.user, x3.password)
    client.transport.session.auth = (x3.user, "wrong")
    with pytest.raises(TransportError) as info:
        client.service.getDescription(context(), "SOH")
    assert info.value.status_code == 401
    wsdl = httpx.get(x3.url + WSDL_PATH, auth=("nobody", x3.password))
    assert wsdl.status_code == 401 and wsdl.headers["www-authenticate"].startswith("Basic")
    response = httpx.post(x3.url + SOAP_PATH, content=b"<x/>")
    assert response.status_code == 401


RAW_ENVELOPE = """<soapenv:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:wss="http://www.adonix.com/WSS">
 <soapenv:Header/><soapenv:Body>
  <wss:save soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
   <callContext xsi:type="wss:CAdxCallContext">
     <codeLang xsi:type="xsd:string">ENG</codeLang><poolAlias xsi:type="xsd:string">{pool}</poolAlias>
     <poolId xsi:type="xsd:string"></poolId><requestConfig xsi:type="xsd:string">adxwss.beautify=true</requestConfig>
   </callContext>
   <publicName xsi:type="xsd:string">SOH</publicName>
   <objectXml xsi:type="xsd:string"><![CDATA[<?xml version="1.0" encoding="UTF-8"?>
<PARAM>
 <GRP ID="SOH0_1">
  <FLD NAME="SALFCY" TYPE="Char">US01</FLD><FLD NAME="SOHTYP" TYPE="Char">SON</FLD>
  <FLD NAME="SOHNUM" TYPE="Char"></FLD>
  <FLD NAME="BPCORD" TYPE="Char">AMZUS</FLD><FLD NAME="ORDDAT" TYPE="Date">20261115</FLD>
  <FLD NAME="CUSORDREF" TYPE="Char">RAW-1 &amp; co</FLD><FLD NAME="CUR" TYPE="Char">USD</FLD>
 </GRP>
 <TAB DIM="200" ID="SOH4_1" SIZE="1">
  <LIN NUM="1"><FLD NAME="ITMREF" TYPE="Char">{item}</FLD><FLD NAME="QTY" TYPE="Decimal">2</FLD>
  <FLD NAME="GROPRI" TYPE="Decimal">19.99</FLD></LIN>
 </TAB>
</PARAM>]]></objectXml>
  </wss:save></soapenv:Body></soapenv:Envelope>"""


def post_raw(x3, pool="SEED", item="NW-HL300"):
    return httpx.post(x3.url + SOAP_PATH, content=RAW_ENVELOPE.format(pool=pool, item=item).encode(),
                      auth=(x3.user, x3.password),
                      headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})


def test_raw_envelope_from_sages_examples(x3_standard):
    ok = post_raw(x3_standard)
    assert ok.status_code == 200
    assert "<status xsi:type=\"xsd:int\">1</status>" in ok.text
    number = re.search(r'NAME="SOHNUM" TYPE="Char"&gt;(\w+)&lt;', ok.text).group(1)
    assert x3_standard.rows("SORDER", SOHNUM=number)[0]["CUSORDREF_0"] == "RAW-1 & co"

    refused = post_raw(x3_standard, item="NW-LAMP-300")
    assert refused.status_code == 200  # business errors are HTTP 200, as on real X3
    root = etree.fromstring(refused.content)
    assert root.findtext(".//saveReturn/status") == "0"
    assert root.find(".//saveReturn/resultXml").get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
    [ref] = root.find(".//saveReturn/messages")
    message = root.find(f".//multiRef[@id='{ref.get('href')[1:]}']")
    assert message.findtext("type") == "3" and "NW-LAMP-300" in message.findtext("message")


def test_raw_envelope_with_the_wrong_groups_is_refused_by_the_custom_layout(x3_custom):
    refused = post_raw(x3_custom)
    root = etree.fromstring(refused.content)
    assert refused.status_code == 200 and root.findtext(".//saveReturn/status") == "0"
    assert "Input XML refused" in root.findtext(".//multiRef/message")


def test_not_a_soap_call_is_a_soap_fault(x3_standard):
    response = httpx.post(x3_standard.url + SOAP_PATH, content=b"<hello/>",
                          auth=(x3_standard.user, x3_standard.password))
    assert response.status_code == 500 and b"Fault" in response.content
