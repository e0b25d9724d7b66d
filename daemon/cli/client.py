"""``mynareader client``: call one method on a reader socket, or watch its events. For integrators and staff."""
from __future__ import annotations

import json

from ..config import load
from ..rpc.client import Client, RemoteError
from .util import CANNOT, CliFail


def _params(items: list[str]) -> dict:
    """key=value pairs; values are JSON when they parse (numbers, true, lists), else strings."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise CliFail(f"parameters are key=value, got {item!r}", CANNOT)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _socket_path(args) -> str:
    if args.socket:
        return args.socket
    cfg = load(args.config)
    return cfg.sockets.kiosk if args.kiosk else cfg.sockets.reception


def cmd_client(args) -> int:
    path = _socket_path(args)
    try:
        client = Client(path)
    except OSError as exc:
        raise CliFail(f"cannot connect to {path}: {exc.strerror or exc}. Is the reader running, and is "
                      f"your user in the socket's group?", CANNOT) from None
    with client:
        try:
            if args.method:
                print(json.dumps(client.call(args.method, **_params(args.params)), ensure_ascii=False, indent=2))
            if args.watch is not None:
                events = args.watch.split(",") if args.watch else ["*"]
                client.call("subscribe", events=events)
                while True:
                    try:
                        event = client.next_event(timeout=3600)
                    except TimeoutError:
                        continue
                    print(json.dumps(event, ensure_ascii=False), flush=True)
        except RemoteError as exc:
            raise CliFail(str(exc)) from None
        except (ConnectionError, KeyboardInterrupt):
            return 0
    return 0


def register(groups) -> None:
    p = groups["_top"].add_parser(
        "client", help="call a method on the reader's socket or watch its events",
        description="Examples:\n  mynareader client hello\n  mynareader client status\n"
                    "  mynareader client --watch result,session.aborted\n"
                    "  mynareader client session.confirm_visual staff=受付1",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("method", nargs="?", help="method name, e.g. hello, status, rpc.discover")
    p.add_argument("params", nargs="*", help="key=value parameters (values parsed as JSON when they can be)")
    p.add_argument("--socket", help="socket path (default: the reception socket from the configuration)")
    p.add_argument("--kiosk", action="store_true", help="use the kiosk socket from the configuration")
    p.add_argument("--config", help="configuration file (default /etc/mynareader/mynareader.toml)")
    p.add_argument("--watch", nargs="?", const="", help="then print events as JSON lines (comma-separated names)")
    p.set_defaults(func=cmd_client)
