"""``mynareader run``: the reader service, as systemd starts it (or by hand on a bench)."""
from __future__ import annotations

import asyncio

from ..config import load
from ..app.serve import serve
from ..app.systemd_integration import setup_logging


def cmd_run(args) -> int:
    config = load(args.config, overrides=args.set)
    # -v / -vv on the command line win over a quieter configured level (the bench wants them; systemd does not)
    levels = ["debug", "info", "warning", "error"]
    wanted = {1: "info", 2: "debug"}.get(min(getattr(args, "verbose", 0), 2), config.logging.level)
    setup_logging(min(wanted, config.logging.level.lower(), key=levels.index))
    return asyncio.run(serve(config))


def register(groups) -> None:
    p = groups["_top"].add_parser(
        "run", help="run the reader service (what systemd starts)",
        description="Run the reader service. Configuration: built-in defaults, then the file, then "
                    "MYNAREADER_SECTION_KEY environment variables, then --set section.key=value.")
    p.add_argument("--config", help="configuration file (default /etc/mynareader/mynareader.toml if present)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set devices.reader=pcsc://")
    p.set_defaults(func=cmd_run)
