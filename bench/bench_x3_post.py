"""Sales orders posted per second through the X3 connector, against the X3 sandbox.

Baseline: the sandbox's own round trip, i.e. a prebuilt SOAP `save` posted back to back with a
bare HTTP client (no lookup, no getDescription, no object building). The connector also looks each
order up over REST before saving (idempotency), so a ratio near 0.5 sequentially is the expected
cost of that lookup; with the pool's concurrency it can exceed 1.

Prints one JSON line per figure. Usage: python bench/bench_x3_post.py [--orders N] [--pool-size N]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import httpx

SOAP_PATH = "/soap-generic/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC"
RAW_SAVE = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:wss="http://www.adonix.com/WSS"><soapenv:Body>
<wss:save soapenv:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
<callContext xsi:type="wss:CAdxCallContext"><codeLang>ENG</codeLang><poolAlias>SEED</poolAlias><poolId/>
<requestConfig>adxwss.optreturn=XML</requestConfig></callContext><publicName>SOH</publicName>
<objectXml>&lt;PARAM&gt;&lt;GRP ID="SOH0_1"&gt;&lt;FLD NAME="SALFCY"&gt;US01&lt;/FLD&gt;&lt;FLD NAME="SOHNUM"/&gt;\
&lt;FLD NAME="BPCORD"&gt;AMZUS&lt;/FLD&gt;&lt;FLD NAME="ORDDAT"&gt;20261120&lt;/FLD&gt;\
&lt;FLD NAME="CUSORDREF"&gt;{ref}&lt;/FLD&gt;&lt;FLD NAME="CUR"&gt;USD&lt;/FLD&gt;&lt;/GRP&gt;\
&lt;TAB ID="SOH4_1"&gt;&lt;LIN NUM="1"&gt;&lt;FLD NAME="ITMREF"&gt;NW-TENT-2P&lt;/FLD&gt;\
&lt;FLD NAME="QTY"&gt;1&lt;/FLD&gt;&lt;FLD NAME="GROPRI"&gt;149.99&lt;/FLD&gt;&lt;/LIN&gt;\
&lt;LIN NUM="2"&gt;&lt;FLD NAME="ITMREF"&gt;NW-PAD-UL&lt;/FLD&gt;&lt;FLD NAME="QTY"&gt;2&lt;/FLD&gt;\
&lt;FLD NAME="GROPRI"&gt;59.99&lt;/FLD&gt;&lt;/LIN&gt;&lt;/TAB&gt;&lt;/PARAM&gt;</objectXml>
</wss:save></soapenv:Body></soapenv:Envelope>"""


def start_sandbox(tmp: str) -> tuple[subprocess.Popen, str]:
    from sage_amazon.sandbox.x3.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sage_amazon.sandbox.x3.cli import x3_command; x3_command()",
         "--port", str(port), "--db", f"sqlite:///{tmp}/x3.sqlite"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "SAGE_AMAZON_DATA_DIR": tmp})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url + "/sandbox/health", timeout=0.5)
            return proc, url
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("the X3 sandbox did not start") from None
            time.sleep(0.1)


def raw_round_trips(url: str, n: int) -> float:
    with httpx.Client(auth=("admin", "admin")) as http:
        started = time.perf_counter()
        for i in range(n):
            body = RAW_SAVE.format(ref=f"RAW-{i}").encode()
            response = http.post(url + SOAP_PATH, content=body, headers={"Content-Type": "text/xml"})
            if b">1</status>" not in response.content:
                raise SystemExit(f"raw save failed: {response.text[:300]}")
        return n / (time.perf_counter() - started)


def connector_rate(url: str, n: int, workers: int, pool_size: int) -> float:
    from sage_amazon.sage.protocol import SalesOrder, SalesOrderLine
    from sage_amazon.sage.x3 import X3Target

    target = X3Target.from_settings(url, "admin", "admin", "SEED", "SEED", pool_size=pool_size)
    target.description("SOH")  # described once per process, as in production
    run = uuid.uuid4().hex[:6]
    orders = [SalesOrder(f"BENCH-{run}-{i}", "AMZUS", "US01", date(2026, 11, 20), "USD",
                         (SalesOrderLine(1, "NW-TENT-2P", Decimal("1"), Decimal("149.99")),
                          SalesOrderLine(2, "NW-PAD-UL", Decimal("2"), Decimal("59.99"))))
              for i in range(n)]
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(target.create_sales_order, orders))
    elapsed = time.perf_counter() - started
    target.close()
    assert all(r.created for r in results)
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--pool-size", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(tmp)
        try:
            raw_round_trips(url, 20)  # warm-up
            baseline = raw_round_trips(url, args.orders)
            figures = [
                ("x3 sales orders posted per second", connector_rate(url, args.orders, args.pool_size,
                                                                     args.pool_size)),
                ("x3 sales orders posted per second, one at a time", connector_rate(url, args.orders // 2, 1, 1)),
            ]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    for name, figure in figures:
        print(json.dumps({"name": name, "figure": round(figure, 1), "unit": "orders/s",
                          "baseline": round(baseline, 1), "baseline_name": "sandbox round trip",
                          "ratio": round(figure / baseline, 3)}))


if __name__ == "__main__":
    main()
