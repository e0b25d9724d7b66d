"""Imports go down the layers, never up, and no modules import each other in a circle (docs/architecture.md).

Layers, lowest first; a module may import its own layer's and lower layers' modules. Imports made only for type
checking are not counted; lazy imports inside functions are (they are still a dependency)."""
import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
LAYERS = [
    ["device"],                                                   # hardware, no policy
    ["daemon.errors", "daemon.clock"],
    ["daemon.store"],
    ["daemon.reception", "daemon.cardface", "daemon.face", "daemon.voice", "daemon.rpc"],   # pure parts
    ["daemon.worker"],                                            # the parts' native work in its own process
    ["daemon.config"],                                            # knows every part's settings
    ["daemon.service"],                                           # the core and its workers: takes parts
    ["daemon.app"],                                               # builds the parts from the configuration
    ["daemon.kiosk_web"],                                         # the patient page's own process
    ["daemon.cli"],                                               # the command line
]


def rank(module: str) -> int:
    for i, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to tests/test_layers.py")


def modules() -> dict[str, Path]:
    out = {}
    for top in ("daemon", "device"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(name: str, path: Path) -> tuple[set[str], set[str]]:
    """(every import, module-level imports) of one module, as names inside the project."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    top_level = {id(n) for n in tree.body}
    every, eager = set(), set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, ast.ImportFrom) or not node.level:
            continue
        base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level > 1 else package.split(".")
        target = ".".join(base + ([node.module] if node.module else []))
        found = [target + "." + a.name for a in node.names if target + "." + a.name in known] or [target]
        every.update(found)
        if id(node) in top_level:
            eager.update(found)
    return every, eager


known = modules()


def test_no_module_imports_upward():
    upward = []
    for name, path in known.items():
        for target in imports(name, path)[0]:
            if target in known and rank(target) > rank(name):
                upward.append(f"{name} -> {target}")
    assert not upward, upward


def test_no_import_circles():
    graph = {name: {t for t in imports(name, path)[1] if t in known and t != name} for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError(" -> ".join(trail[trail.index(nxt):] + [node, nxt]) if nxt in trail
                                     else f"{node} -> {nxt}")
            if nxt not in state:
                visit(nxt, trail + [node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_the_service_takes_parts_not_the_configuration():
    """The configuration is read at the edge (app/compose.py) and flows down as values: the service core and its
    parts never import it, nor the process that builds them."""
    for name, path in known.items():
        if name.startswith("daemon.service"):
            wrong = {t for t in imports(name, path)[0] if t.startswith(("daemon.config", "daemon.app"))}
            assert not wrong, f"{name} imports {wrong}"
