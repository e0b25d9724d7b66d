"""Enable Debian's ``contrib`` component in apt's sources, for the Japanese voice (``make system`` runs this only
when ``hts-voice-nitech-jp-atr503-m001`` has no install candidate; Raspberry Pi OS has contrib already).

Only Debian's own archive entries change (a URI on debian.org or signed with debian-archive-keyring): a third-party
repository, or the Raspberry Pi archive, has no contrib. Both formats are handled - deb822 ``*.sources`` files
(``Components: main`` -> ``Components: main contrib``) and one-line ``sources.list`` entries - and running it
again changes nothing. Usage: ``python3 systemd/apt_contrib.py [/etc/apt]``; prints each file it changed.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def _is_debian(uris: str, signed_by: str = "") -> bool:
    return "debian.org" in uris or "debian-archive-keyring" in signed_by


def enable_in_deb822(text: str) -> str:
    """The deb822 text with contrib added to each Debian stanza that has main and lacks contrib."""
    out = []
    for stanza in re.split(r"(\n\s*\n)", text):       # keep the blank-line separators as they were
        fields = dict(re.findall(r"(?im)^([A-Za-z-]+):[ \t]*(.*)$", stanza))
        fields = {k.lower(): v for k, v in fields.items()}
        comps = fields.get("components", "").split()
        if ("main" in comps and "contrib" not in comps
                and _is_debian(fields.get("uris", ""), fields.get("signed-by", ""))):
            comps.insert(comps.index("main") + 1, "contrib")
            stanza = re.sub(r"(?im)^(Components:[ \t]*).*?[ \t]*$", lambda m: m.group(1) + " ".join(comps),
                            stanza, count=1)
        out.append(stanza)
    return "".join(out)


_LIST_LINE = re.compile(r"^(\s*deb(?:-src)?\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+)((?:\s+\S+)*?)(\s*(?:#.*)?)$")


def enable_in_list(text: str) -> str:
    """The one-line-format text with contrib added to each Debian entry that has main and lacks contrib."""
    lines = []
    for line in text.splitlines(keepends=True):
        body, newline = (line[:-1], "\n") if line.endswith("\n") else (line, "")
        m = _LIST_LINE.match(body)
        if m and _is_debian(m.group(2), m.group(1)):
            comps = m.group(3).split()
            if "main" in comps and "contrib" not in comps:
                comps.insert(comps.index("main") + 1, "contrib")
                body = m.group(1) + " " + " ".join(comps) + m.group(4)
        lines.append(body + newline)
    return "".join(lines)


def enable(apt_dir: Path) -> list[Path]:
    """Edit sources.list and sources.list.d/*.list / *.sources under apt_dir in place; the files changed."""
    changed = []
    candidates = [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]
    edits = [(p, enable_in_list) for p in candidates if p.is_file()]
    edits += [(p, enable_in_deb822) for p in sorted((apt_dir / "sources.list.d").glob("*.sources"))]
    for path, edit in edits:
        before = path.read_text()
        after = edit(before)
        if after != before:
            path.write_text(after)
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    apt_dir = Path(argv[1] if len(argv) > 1 else "/etc/apt")
    changed = enable(apt_dir)
    for path in changed:
        print(f"enabled Debian's contrib component in {path}")
    if not changed:
        print("no Debian source without contrib found in", apt_dir, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
