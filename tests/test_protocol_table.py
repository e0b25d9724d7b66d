"""The protocol table (daemon/service/protocol.py) is the one list of methods: the server's role checks,
hello.methods, the patient page's allow-list, the OpenRPC document and docs/protocol.md all agree with it."""
import asyncio
import re
from pathlib import Path
from types import SimpleNamespace

from mynareader.daemon.kiosk_web.bridge import ALLOWED
from mynareader.daemon.reception.transitions import TRANSITIONS
from mynareader.daemon.rpc.server import Role, RpcServer
from mynareader.daemon.service import protocol
from mynareader.daemon.service.protocol import KIOSK, NOTIFICATIONS, ROUTES, openrpc_document

DOCS = Path(__file__).parent.parent / "docs"
BUILT_IN = {"hello", "rpc.discover", "subscribe", "unsubscribe"}    # the server's own, on both sockets


def served() -> dict[str, set[str]]:
    """hello.methods for each socket, from a server with the table mounted."""
    rpc = RpcServer()
    protocol.mount(rpc, None)  # type: ignore[arg-type]    # no handler is called here
    out = {}
    for role in Role:
        conn = SimpleNamespace(role=role)
        out[role.value] = set(asyncio.run(rpc.methods["hello"].handler(conn, {}))["methods"])
    return out


def test_one_row_per_method():
    names = [r.method for r in ROUTES]
    assert len(names) == len(set(names)) and not BUILT_IN & set(names)


def test_hello_and_role_checks_come_from_the_table():
    for role, methods in served().items():
        assert methods == BUILT_IN | {r.method for r in ROUTES if Role(role) in r.roles}, role


def test_the_openrpc_document_lists_the_table():
    doc = openrpc_document()
    documented = {m["name"]: frozenset(Role(r) for r in m["x-roles"]) for m in doc["methods"]}
    table = {r.method: r.roles for r in ROUTES} | {name: frozenset(Role) for name in BUILT_IN}
    assert documented == table
    assert set(NOTIFICATIONS) == set(doc["components"]["x-events"])


def test_the_docs_list_each_sockets_methods():
    """docs/protocol.md's socket table (and the sentence on what both sockets take) names every method."""
    md = (DOCS / "protocol.md").read_text(encoding="utf-8")
    both = set(re.findall(r"`([a-z_.]+)`", re.search(r"Both sockets take (.*?)\. ", md, re.S).group(1)))
    for role in Role:
        row = next(line for line in md.splitlines() if line.startswith(f"| `/run/mynareader/{role.value}.sock`"))
        listed = set(re.findall(r"`([a-z_.]+)`", row.split("|")[3])) | both
        assert listed == BUILT_IN | {r.method for r in ROUTES if role in r.roles}, role


def test_the_page_may_call_the_kiosk_methods_only():
    assert ALLOWED == {r.method for r in ROUTES if r.roles == KIOSK} | {"mode.set"}
    assert all(Role.RECEPTION not in r.roles for r in ROUTES if r.method in ALLOWED - {"mode.set"})


def test_every_fed_event_is_a_flow_event():
    taken = {row.event for row in TRANSITIONS}
    for route in ROUTES:
        assert route.feeds is None or route.feeds in taken, route.method
