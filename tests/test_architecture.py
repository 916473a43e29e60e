"""The house's shape, checked: no import cycle between tracker's modules (issue 18).

Every `import` and `from ... import` anywhere in a module counts: at its top, inside a function (a lazy import still
closes a cycle) or under `if TYPE_CHECKING:` (a type still says which module relies on which). Importing
`tracker.a.b` runs the package `tracker.a` first, so a module depends on its packages too, and a package's
`__init__` must import none of its own modules."""

from __future__ import annotations

import ast
from pathlib import Path

import tracker

ROOT = Path(tracker.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the tracker modules it imports when it runs."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            for target in targets:
                while target and target not in modules:  # `tracker.x.Name` -> `tracker.x`
                    target = target.rpartition(".")[0]
                while target and target != "tracker":  # a module's packages run first
                    if target != name:
                        graph[name].add(target)
                    target = target.rpartition(".")[0]
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    """Seven cycles closed (cli and its command modules, notify-validation-escalations, events-review-report,
    actions-clock, workbook-store.xlsx, ...): a module below another never needs it back."""
    graph = import_graph()
    assert len(graph) > 40
    found = cycles(graph)
    detail = [
        " -> ".join(group) + ": " + "; ".join(f"{m} imports {sorted(graph[m] & set(group))}" for m in group)
        for group in found
    ]
    assert found == [], detail


def test_the_check_finds_a_cycle() -> None:
    """The check itself: a made-up cycle is found."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def layers() -> tuple[dict[str, int], list[str]]:
    """Module -> its layer's height, and the layers' names, from ARCHITECTURE.md's `layers` block (bottom first)."""
    text = (Path(__file__).parents[1] / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = text.split("```layers\n", 1)[1].split("```", 1)[0]
    height: dict[str, int] = {}
    titles = []
    for line in block.strip().splitlines():
        title, _, names = line.partition(":")
        for name in names.split():
            height["tracker" if name == "tracker" else f"tracker.{name}"] = len(titles)
        titles.append(title.strip())
    return height, titles


def test_every_module_has_a_layer_and_none_imports_upward() -> None:
    """ARCHITECTURE.md names each module's layer; a module imports only its own layer and those below (the rules
    of events imported the review document's module, the email context imported the mail layer from below it)."""
    graph = import_graph()
    height, titles = layers()
    assert sorted(set(graph) - set(height)) == [], "modules ARCHITECTURE.md does not place in a layer"
    assert sorted(set(height) - set(graph)) == [], "ARCHITECTURE.md names modules that do not exist"
    upward = [
        f"{module} ({titles[height[module]]}) imports {target} ({titles[height[target]]})"
        for module, targets in sorted(graph.items())
        for target in sorted(targets)
        if height[target] > height[module]
    ]
    assert upward == []


CLI = {"tracker.entry", "tracker.__main__"}  # and every module of tracker/cli/


def _library(name: str) -> bool:
    return name not in CLI and name != "tracker.cli" and not name.startswith("tracker.cli.")


# What the library still does to the process, each for a reason (issue 18 leaves them to a later step):
ALLOWED = {
    # calamine's Rust panics print to the native stderr; the reader flushes Python's before silencing fd 2
    ("tracker.workbook.early", "sys.stderr"),
    # openpyxl's lxml writer emits drawings no reader opens; the variable must be set before openpyxl is imported
    ("tracker", "os.environ"),
}


def test_the_library_never_writes_to_the_terminal_or_changes_the_process() -> None:
    """Below the command line: no print, no writes to sys.stdout or sys.stderr, no environment, signal or matplotlib
    backend changes (the request log printed to stderr, the transfer progress wrote to the terminal, the report's
    charts switched matplotlib's backend for the whole program)."""
    found = []
    for name, path in _modules().items():
        if not _library(name):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            text = ast.unparse(node) if isinstance(node, ast.Call | ast.Attribute) else ""
            what = ""
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                what = "print"
            elif isinstance(node, ast.Attribute) and text in ("sys.stdout", "sys.stderr"):
                what = text
            elif isinstance(node, ast.Call) and text.startswith(("matplotlib.use(", "signal.signal(", "os.putenv(")):
                what = text.split("(")[0]
            elif isinstance(node, ast.Attribute) and text == "os.environ" and _writes(tree, node):
                what = "os.environ"
            if what and (name, what) not in ALLOWED:
                found.append(f"{name}:{node.lineno}: {what}")
    assert found == []


def _writes(tree: ast.Module, environ: ast.Attribute) -> bool:
    """Whether this `os.environ` is written: assigned to, deleted from, or given setdefault/update/pop/clear."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.value is environ:
            return node.func.attr in ("setdefault", "update", "pop", "clear", "popitem")
        if isinstance(node, ast.Assign | ast.Delete | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            if any(isinstance(t, ast.Subscript) and t.value is environ for t in targets):
                return True
    return False


# Issue 18: no module over 600 lines, no function over 60 (docstring and signature included). A module or function
# that reads better whole may be listed here with its size and the reason beside it; today none is.
LONG_MODULES: dict[str, int] = {}
LONG_FUNCTIONS: dict[str, int] = {}


def test_modules_and_functions_do_not_grow_past_their_size() -> None:
    """No module over 600 lines and no function over 60 (cli.py had 1,345 lines, notify.py 1,080, prepare 132)."""
    too_long = []
    for name, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > LONG_MODULES.get(name, 600):
            too_long.append(f"{name}: {lines} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = (node.end_lineno or node.lineno) - node.lineno + 1
                if size > LONG_FUNCTIONS.get(f"{name}.{node.name}", 60):
                    too_long.append(f"{name}.{node.name}: {size} lines")
    assert too_long == []


def test_the_library_imports_its_own_modules_at_the_top() -> None:
    """tracker's own modules are imported at the top of a library module, where a reader sees what it relies on
    (half of them were imported inside functions, which hid the cycles); one inside a function must say on its
    line why it is lazy. The command line imports the library inside its commands (start-up time), and
    third-party libraries that take time to load are imported where they are used."""
    inside = []
    for name, path in _modules().items():
        if not _library(name):
            continue
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").startswith("tracker"):
                    said = "\n".join(lines[sub.lineno - 1 : sub.end_lineno])
                    if "lazy" not in said:
                        inside.append(f"{name}:{sub.lineno}: from {sub.module} import ...")
    assert inside == []
