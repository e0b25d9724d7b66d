"""``mynareader store init|recover``: the state store's deliberate steps (the daemon itself never starts afresh)."""
from __future__ import annotations

import time

from ..config import load
from ..store import Store, StoreError
from .util import CANNOT, CliFail


def _hand_over(directory: str) -> None:
    """Run as root at install, the store files go to whoever owns the state directory (the service's user)."""
    import os
    from pathlib import Path
    d = Path(directory)
    if os.geteuid() == 0 and d.exists():
        st = d.stat()
        for f in d.iterdir():
            os.chown(f, st.st_uid, st.st_gid)


def cmd_init(args) -> int:
    """At install: make the store and its marker (the marker is what tells a first start from a lost store)."""
    config = load(args.config, overrides=args.set)
    store = Store(config.state.directory, config.state.marker_path)
    try:
        store._write_marker(required=True)
    except OSError as exc:
        raise CliFail(f"the store marker {config.state.marker_path} cannot be written: {exc.strerror or exc}") \
            from None
    store.close()
    _hand_over(config.state.directory)
    print(f"state store ready in {config.state.directory}; marker {config.state.marker_path}")
    return 0


def cmd_recover(args) -> int:
    config = load(args.config, overrides=args.set)
    if not args.adopt and not args.yes:
        raise CliFail("a new store forgets every face lock and failure count on this reader; the old files are "
              "kept, renamed *.set-aside-TIME. Stop the service, then run again with --yes to do it, or with --adopt "
              "to keep the store that is there and record it as this reader's.", CANNOT)
    try:
        store = Store.recover(config.state.directory, config.state.marker_path, args.adopt, time.time())
    except (StoreError, OSError) as exc:
        raise CliFail(f"recovery failed: {exc}") from None
    store.close()
    _hand_over(config.state.directory)
    print("store adopted" if args.adopt else "new store made; the old files are set aside in "
          f"{config.state.directory}")
    return 0


def register(groups) -> None:
    for name, fn, text in (("init", cmd_init, "make the state store and its marker (at install, as root)"),
                           ("recover", cmd_recover, "after a lost or replaced store: adopt it, or start a new one")):
        p = groups["store"].add_parser(name, help=text)
        p.add_argument("--config", help="configuration file (default /etc/mynareader/mynareader.toml if present)")
        p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
        if name == "recover":
            p.add_argument("--adopt", action="store_true", help="keep the store that is there")
            p.add_argument("--yes", action="store_true", help="start a new store (lifts every lockout)")
        p.set_defaults(func=fn)
