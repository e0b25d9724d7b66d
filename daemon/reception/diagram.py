"""Rewrite the state diagram in docs/flow.md from the transition table: ``python -m mynareader.daemon.reception.diagram``."""
from __future__ import annotations

import sys
from pathlib import Path

from .transitions import mermaid

BEGIN = "<!-- diagram:begin (generated from daemon/reception/transitions.py; do not edit) -->"
END = "<!-- diagram:end -->"


def render(doc: str) -> str:
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n```mermaid\n{mermaid()}\n```\n{END}{tail}"


def main(argv: list[str]) -> int:
    path = Path(argv[0] if argv else "docs/flow.md")
    path.write_text(render(path.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote the state diagram into {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
