"""docs/protocol.md's exchanges, the OpenRPC document and the JavaScript client, against the real service."""
import json
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import jsonschema

from mynareader.daemon.rpc.client import Client
from mynareader.daemon.service.protocol import openrpc_document
from mynareader.device.bench_control import send_control

DOCS = Path(__file__).parent.parent / "docs"
ANY = "…"


def subset(expected, actual, where="") -> None:
    if expected == ANY:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}.{key} missing in {actual!r}"
            subset(value, actual[key], f"{where}.{key}")
    else:
        assert expected == actual, f"{where}: documented {expected!r}, got {actual!r}"


class RawConnection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(20)
        self.sock.connect(path)
        self.buf = b""
        self.notifications = []

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\n")

    def _read(self) -> dict:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "the reader closed the connection"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def reply(self) -> dict:
        while True:
            msg = self._read()
            if "method" in msg:
                self.notifications.append(msg)
            else:
                return msg

    def notification(self, method: str) -> dict:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            for i, msg in enumerate(self.notifications):
                if msg["method"] == method:
                    return self.notifications.pop(i)
            self.notifications.append(self._read())
        raise AssertionError(f"no {method} notification")


def blocks(text: str) -> list[str]:
    return re.findall(r"```jsonrpc\n(.*?)```", text, re.S)


def test_documented_exchanges_happen(reader):
    conns = {"reception": RawConnection(reader.sockets.reception), "kiosk": RawConnection(reader.sockets.kiosk)}
    current = None
    steps = 0
    for block in blocks((DOCS / "protocol.md").read_text(encoding="utf-8")):
        for line in block.strip().splitlines():
            if line.startswith("@bench "):
                assert send_control(reader.bench.control, line[7:]) == "ok"
            elif line.startswith("@wait "):
                with Client(reader.sockets.kiosk) as k:
                    deadline = time.monotonic() + 20
                    while k.call("kiosk.current")["state"] != line[6:]:
                        assert time.monotonic() < deadline, f"never reached {line[6:]}"
                        time.sleep(0.05)
            elif line.startswith("@"):
                current = conns[line[1:]]
            elif line.startswith("--> "):
                current.send(line[4:])
            elif line.startswith("<-- "):
                subset(json.loads(line[4:]), current.reply(), "reply")
            elif line.startswith("<~~ "):
                expected = json.loads(line[4:])
                subset(expected, current.notification(expected["method"]), expected["method"])
            steps += 1
    assert steps >= 30


def test_openrpc_document_matches_the_service(reader):
    doc = openrpc_document()
    assert doc["openrpc"].startswith("1.") and doc["info"]["version"] == "1.0"
    with Client(reader.sockets.reception) as r, Client(reader.sockets.kiosk) as k:
        assert r.call("rpc.discover") == doc
        served = {"reception": set(r.call("hello")["methods"]), "kiosk": set(k.call("hello")["methods"])}
    documented = {m["name"]: set(m["x-roles"]) for m in doc["methods"]}
    for role, methods in served.items():
        assert methods == {name for name, roles in documented.items() if role in roles}, role
    for method in doc["methods"]:
        assert method["paramStructure"] == "by-name" and "result" in method
        schema = {"type": "object", "properties": {p["name"]: p["schema"] for p in method["params"]},
                  "required": [p["name"] for p in method["params"] if p.get("required")]}
        jsonschema.Draft202012Validator.check_schema(schema)
        for example in method.get("examples", []):
            jsonschema.validate({p["name"]: p["value"] for p in example["params"]}, schema)
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    for name in doc["components"]["x-events"]:
        assert f"`{name}`" in md
    for name in doc["components"]["x-errors"]:
        assert name in md


def test_javascript_client_prints_results(reader):
    node = shutil.which("node")
    assert node, "Node.js is needed to test the JavaScript client example"
    proc = subprocess.Popen([node, str(DOCS / "examples" / "reception-client.js"), reader.sockets.reception, "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Client(reader.sockets.kiosk) as kiosk:
        deadline = time.monotonic() + 20
        out = ""
        while "subscribed" not in out:
            out += proc.stdout.readline()
            assert time.monotonic() < deadline
        send_control(reader.bench.control, "insert fresh")
        for state, call in (("choose_method", ("kiosk.choose_method", {"method": "pin"})),
                            ("pin_entry", ("kiosk.submit_pin", {"pin": "1234"})),
                            ("consent", ("kiosk.answer", {"screen": "comprehensive", "answer": "agree"}))):
            while kiosk.call("kiosk.current")["state"] != state:
                assert time.monotonic() < deadline + 20
                time.sleep(0.05)
            kiosk.call(call[0], **call[1])
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    line = [l for l in stdout.splitlines() if l.startswith("result ")][0]
    assert "method=pin" in line
    assert "diagnosis_medication=yes,surgery=yes,health_checkup=yes" in line
