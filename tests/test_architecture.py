"""The package map in docs/architecture.md holds: each package imports only what the map allows."""

import ast
from pathlib import Path

import synthloop

ROOT = Path(synthloop.__file__).parent
COMMON = {"errors", "_version"}
ALLOWED = {
    "errors": set(), "registry": set(), "tabular": set(), "io": set(),
    "schema": {"tabular"}, "transforms": {"schema", "registry"}, "privacy": {"schema", "tabular", "io"},
    "nn": {"io"}, "metrics": {"schema", "tabular", "registry"},
    "synthesizers": {"schema", "transforms", "privacy", "nn", "tabular", "io", "registry", "metrics"},
    "lineage": {"tabular", "io"}, "loop": {"lineage"}, "report": {"metrics", "schema", "lineage", "io"},
    "lab": {"loop", "synthesizers", "metrics", "lineage", "datasets", "schema", "io"},
    "datasets": {"registry"}, "demo": {"synthesizers", "report", "schema", "io", "workflows", "__init__"},
    "workflows": {"synthesizers", "loop", "lineage", "privacy", "schema", "io", "monitor", "simulate", "tabular"},
    "monitor": {"tabular", "lineage", "io"}, "simulate": {"loop", "tabular", "io"},
}


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else (
            [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        for name in names:
            if name == "synthloop":
                found.add("__init__")
            elif name.startswith("synthloop."):
                found.add(name.split(".")[1])
    return found


def test_each_package_imports_only_what_the_map_allows():
    problems = []
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).parts
        package = parts[0] if len(parts) > 1 else parts[0].removesuffix(".py")
        if package not in ALLOWED:
            continue
        extra = _imports(path) - ALLOWED[package] - COMMON - {package}
        if extra:
            problems.append(f"{path.relative_to(ROOT)} imports {sorted(extra)}")
    assert not problems, "\n".join(problems)


def test_nothing_imports_the_cli():
    users = [p for p in ROOT.rglob("*.py") if "cli" not in p.relative_to(ROOT).parts[:1]
             and p.name != "__main__.py" and "cli" in _imports(p)]
    assert not users, users
