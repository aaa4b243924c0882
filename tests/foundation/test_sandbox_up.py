"""`sage-amazon sandbox up`: every stand-in on loopback, the environment printed, all stopped on SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.ports import sandbox_ports

ROOT = Path(__file__).resolve().parents[2]


def _children_of(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def test_sandbox_up_serves_the_printed_environment_and_stops_cleanly(tmp_path):
    ports = sandbox_ports()
    env = {**os.environ, "SAGE_AMAZON_DATA_DIR": str(tmp_path), "SAGE_AMAZON_TARGET": "x3"}
    cmd = [sys.executable, "-m", "sage_amazon.cli", "sandbox", "up"]
    cmd += [f"--{name}-port={port}" for name, port in ports.items()]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    children: list[int] = []
    try:
        exported: dict[str, str] = {}
        deadline = time.monotonic() + 180
        for line in proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exported[name] = value.strip("'")
            if "Sandboxes running" in line or time.monotonic() > deadline:
                break
        assert "Sandboxes running" in line, line
        assert exported["SP_API_ENDPOINT"] == f"http://127.0.0.1:{ports['amazon']}"
        assert exported["SAGE_X3_URL"] == f"http://127.0.0.1:{ports['x3']}"
        assert f":{ports['sqs']}/" in exported["SQS_QUEUE_URL"]
        token = httpx.post(
            exported["SP_API_LWA_ENDPOINT"],
            data={
                "grant_type": "refresh_token",
                "refresh_token": exported["SP_API_REFRESH_TOKEN"],
                "client_id": exported["LWA_APP_ID"],
                "client_secret": exported["LWA_CLIENT_SECRET"],
            },
            timeout=10,
        )
        assert token.status_code == 200, (token.text, exported)
        assert token.json()["access_token"]
        wsdl = httpx.get(
            exported["SAGE_X3_URL"] + "/soap-wsdl/syracuse/collaboration/syracuse/CAdxWebServiceXmlCC?wsdl",
            auth=(exported["SAGE_X3_USER"], exported["SAGE_X3_PASSWORD"]),
            timeout=10,
        )
        assert wsdl.status_code == 200 and "CAdxWebServiceXmlCC" in wsdl.text
        children = _children_of(proc.pid)
        watchdogs = [c for c in children if b"watchdog.py" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(children) == 4 and len(watchdogs) == 1  # three sandboxes and the watchdog
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    deadline = time.monotonic() + 15
    while any(_alive(c) for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [c for c in children if _alive(c)], "sandboxes left running after SIGTERM"
