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
    "lab": {"loop", "synthesizers", "metrics", "lineage", "datasets", "schema", "io", "parallel"},
    "datasets": {"registry"}, "demo": {"synthesizers", "report", "schema", "io", "workflows", "__init__"},
    "workbench": {"workflows", "synthesizers", "report", "lab", "lineage", "schema", "io", "monitor"},
    "align": {"schema", "tabular", "metrics", "synthesizers", "io", "lineage"},
    "parallel": set(),
    "partitions": {"parallel", "synthesizers", "metrics", "tabular", "report", "schema", "io", "workflows"},
    "tuning": {"parallel", "synthesizers", "metrics", "schema", "lineage", "loop", "io", "nn"},
    "federated": {"synthesizers", "transforms", "schema", "nn", "lineage", "io", "datasets", "privacy"},
    "workflows": {"synthesizers", "loop", "lineage", "privacy", "schema", "io", "align", "monitor", "simulate", "tabular"},
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


def test_nothing_outside_the_cli_imports_the_workbench():
    users = [p for p in ROOT.rglob("*.py") if p.relative_to(ROOT).parts[0] not in ("cli", "workbench")
             and "workbench" in _imports(p)]
    assert not users, users


def test_no_module_imports_a_module_that_imports_it_back():
    """Import cycles between two modules, lazy ones included (issue 12: the metrics registry imported its own
    clients). Imports under ``TYPE_CHECKING`` do not run and do not count; a package's ``__init__`` may
    import its own modules."""
    def runtime_imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and getattr(block.test, "id", "") == "TYPE_CHECKING" for n in ast.walk(block)}
        found = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthloop"):
                found |= {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.startswith("synthloop")}
        return found

    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    imports = {name: runtime_imports(path) & set(modules) for name, path in modules.items()}
    cycles = sorted(f"{a} <-> {b}" for a in imports for b in imports[a]
                    if a < b and a in imports[b] and not b.startswith(f"{a}.") and not a.startswith(f"{b}."))
    assert not cycles, cycles
