"""The package's floor plan holds: no import cycle, lazy or not, and no module reaches into another package's
private modules (DESIGN: arrows go one way; a ``_module`` belongs to its package)."""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "journeysim"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every journeysim module ``name`` imports, anywhere in the file (in functions too)."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("journeysim")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("journeysim"):
                continue
            # `from pkg import sub` imports the submodule pkg.sub when there is one
            subs = {f"{target}.{a.name}" for a in node.names} & known
            out |= subs or {target}
            if not subs or len(subs) < len(node.names):
                out.add(target)
    return {m for m in out if m in known and m != name}


def _graph() -> nx.DiGraph:
    modules = _modules()
    g = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for target in _imports(name, path, set(modules)):
            g.add_edge(name, target)
    return g


def test_the_walker_sees_imports_inside_functions_and_relative_ones():
    g = _graph()
    assert "journeysim.experiments.design" in g.successors("journeysim.cli.design")   # inside run()
    assert g.number_of_edges() > 100


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(_graph()))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def _private_owner(module: str) -> str | None:
    """The package that owns a private module (``a.b._c`` -> ``a.b``), or None for a public one."""
    parts = module.split(".")
    for k, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:k])
    return None


def test_no_module_imports_another_package_private_module():
    bad = []
    for a, b in _graph().edges:
        owner = _private_owner(b)
        if owner is not None and not (a == owner or a.startswith(owner + ".")):
            bad.append(f"{a} -> {b}")
    assert bad == []


def test_docs_design_lists_every_module():
    """docs/design.md describes the layout one line per module: a new module gets its line (commands excepted:
    ``cli/`` holds one module per command, named for it)."""
    text = (PACKAGE.parent / "docs" / "design.md").read_text(encoding="utf-8")
    missing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.name in ("__init__.py", "__main__.py") and rel.parent != Path("."):
            continue
        if rel.parts[0] == "cli" and not rel.name.startswith("_"):
            continue
        # a line names the module by its path inside its package (``montecarlo/engine.py``, ``fitting/fit.py``)
        # or by its file name inside the package's table
        names = {f"`{rel.as_posix()}`", f"`{rel.name}`", f"`{'/'.join(rel.parts[-2:])}`"}
        if not any(n in text for n in names):
            missing.append(rel.as_posix())
    assert not missing, f"docs/design.md has no line for: {', '.join(missing)}"
