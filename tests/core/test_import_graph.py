"""The package's import graph: no cycles, and no layer imports one above it.

The graph is read from the source with ``ast``: every ``import`` and ``from ... import`` of
a module, at module level or inside a function (an import inside a function is still a
dependency; it only delays a cycle until the function runs). ``from X import name`` depends
on the module ``X.name`` when there is one, otherwise on ``X``.

Two things Python does are not edges here. A module's import of its own packages (``from .
import bp``, the blueprint idiom; ``from .. import __version__``) is the module asking its
container, which is already being imported. And the ``__init__`` that Python runs on the way
to a module (``from ..patients.models import Patient`` runs ``emrs/patients/__init__.py``,
which loads the patient pages to register them) is not counted as the importer's own
dependency: the rules are about what each module asks for.

The direction rule: views and the API call services, services call models, models call
nothing above them. Here that is two checks:

    doors      what answers a request: page views (``views``, ``*_views``), the API package
               (but its ``models``), FHIR's views, the blueprint packages, web, doors,
               auth.guard, submission, pages, health, commands and the app factory (``emrs``).
               Nothing else imports a door.
    models     ``models`` modules and models_base import no service (``service`` modules).
"""
from __future__ import annotations

import ast
from pathlib import Path

import emrs

PACKAGE = Path(emrs.__file__).parent

# Door modules that are not recognised by their name (views, *_views, emrs.api.*) or by
# creating a Blueprint.
DOOR_MODULES = {"emrs", "emrs.web", "emrs.doors", "emrs.pages", "emrs.auth.guard", "emrs.submission", "emrs.commands"}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts.pop()
        found[".".join(parts)] = (path, is_package)
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        prefix = ".".join(base + ([node.module] if node.module else []))
    else:
        prefix = node.module or ""
    return [f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in modules else prefix for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    """module -> the package's modules it imports (module and function level)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        containers = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in _targets(name, is_package, node, modules):
                if target != "emrs" and not target.startswith("emrs."):
                    continue  # the standard library, Flask, SQLAlchemy ...
                while target not in modules:  # emrs.patients.models.Patient -> emrs.patients.models
                    target = target.rsplit(".", 1)[0]
                if target != name and target not in containers:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path a -> b -> ... -> a) from each strongly connected group of
    modules (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    groups.append(group)
    return [_cycle_in(graph, set(group)) for group in groups]


def _cycle_in(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, inside the group."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return paths[node] + [start]
            if child not in paths:
                paths[child] = paths[node] + [child]
                queue.append(child)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def _creates_blueprint(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Blueprint" for n in ast.walk(tree))


def _is_models(name: str) -> bool:
    return name.rsplit(".", 1)[-1] == "models" or name == "emrs.models_base"


def door_modules() -> set[str]:
    doors = set()
    for name, (path, _is_package) in _modules().items():
        last = name.rsplit(".", 1)[-1]
        if _is_models(name):
            continue  # a table, whatever its folder
        if (name in DOOR_MODULES or last == "views" or last.endswith("_views") or name == "emrs.api"
                or name.startswith("emrs.api.") or _creates_blueprint(path)):
            doors.add(name)
    return doors


# ------------------------------------------------------------------ the tests


def test_the_graph_sees_module_and_function_level_imports():
    graph = import_graph()
    assert "emrs.doors" in graph["emrs.web"]                  # module level
    assert "emrs.api.root" in graph["emrs.web"]               # inside a function
    assert "emrs.fhir.service" in graph["emrs.fhir.views"]    # `from . import service`
    assert "emrs.fhir" not in graph["emrs.fhir.views"]        # `from . import bp`: its container
    assert "flask" not in graph["emrs.web"] and "emrs" not in graph["emrs.api.root"]
    assert sum(map(len, graph.values())) > 300


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"a"}}) == [["a", "a"]]
    assert cycles({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []


def test_the_package_has_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_only_doors_import_doors():
    doors = door_modules()
    assert {"emrs.patients.views", "emrs.patients.files_views", "emrs.api.patients", "emrs.fhir.views", "emrs.web",
            "emrs.doors", "emrs.fhir", "emrs.health", "emrs.auth.guard"} <= doors
    assert not {"emrs.patients.registration", "emrs.fhir.service", "emrs.idempotency_keys", "emrs.audit.service"} & doors
    upward = sorted(f"{module} imports {target}" for module, targets in import_graph().items()
                    if module not in doors for target in targets & doors)
    assert not upward, "modules below the doors import a door:\n" + "\n".join(upward)


def test_models_import_no_service():
    graph = import_graph()
    models = [name for name in graph if _is_models(name)]
    assert "emrs.patients.models" in models and "emrs.clinical.models" in models
    upward = sorted(f"{module} imports {target}" for module in models for target in graph[module]
                    if target.rsplit(".", 1)[-1] == "service" or target in door_modules())
    assert not upward, "\n".join(upward)
