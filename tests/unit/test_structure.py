"""The package's layering: every import points down, and no module imports itself in a circle.

Lazy (function-level) imports count too: a lazy import from a layer above is still an upward
dependency. ``cli`` is the top: the only place allowed to reach everything.
"""

from __future__ import annotations

import ast
from pathlib import Path

import lamina

ROOT = Path(lamina.__file__).parent

# bottom to top; a part may import any part of a lower layer, never one of its own layer or above
LAYERS = [
    {"errors"},
    {"lamina"},  # the package itself: __version__ and LaminaError
    {"registry"},  # imports errors alone; eval (METRICS) builds on it
    {"io", "config", "eval", "data"},
    {"results"},  # reads lamina.__version__
    {"models"},
    {"analysis"},
    {"strategies", "losses", "importance"},
    {"tasks", "display"},
    {"reports", "training", "distillation", "serve"},
    {"lifelong_learning", "compression"},  # lamina lifelong's and lamina compress's parts
    {"workflows"},
    {"recipes", "quickstart"},
    {"cli", "api"},  # api: every command as a function (lamina.__getattr__ reaches it lazily)
]
RANK = {part: i for i, layer in enumerate(LAYERS) for part in layer}


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, path, ast.parse(path.read_text(encoding="utf-8"))


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "lamina"


def _imports(tree, *, top_level_only: bool = False):
    nodes = tree.body if top_level_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lamina":
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "lamina")


def test_every_part_has_a_layer():
    parts = {_part(name) for name, _, _ in _modules()}
    assert parts <= set(RANK), parts - set(RANK)


def test_no_import_points_up_or_sideways():
    upward = []
    for name, path, tree in _modules():
        here = _part(name)
        for target in _imports(tree):
            there = _part(target)
            if there != here and RANK[there] >= RANK[here]:
                upward.append(f"{path.relative_to(ROOT)} imports {target} ({here} → {there})")
    assert not upward, "\n".join(upward)


def test_no_import_cycle_between_modules():
    names = {name for name, _, _ in _modules()}
    graph = {}
    for name, _, tree in _modules():
        targets = set()
        for target in _imports(tree, top_level_only=True):
            while target not in names and "." in target:  # `from lamina.x import y` where y is a name
                target = target.rsplit(".", 1)[0]
            if target != name:
                targets.add(target)
        graph[name] = targets
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " → ".join([*stack[stack.index(nxt) :], nxt]))
            if nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])


def test_a_file_over_500_lines_says_why_in_its_docstring():
    long = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > 500:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "Why one file of more than 500 lines:" not in doc:
                long.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not long, "files over 500 lines with no paragraph saying why: " + ", ".join(long)
