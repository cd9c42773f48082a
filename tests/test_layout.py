"""The package's layers (docs/architecture.md): every import of a keystream module, at module
level or inside a function, goes to the same layer or one above it, and no modules import
each other in a circle."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "src" / "keystream"

#: Layer of each top-level folder or module of the package: imports go to a lower or equal number.
LAYERS = {
    "_version": 0, "_core": 0,
    "_engines": 1,
    "_torch": 2,
    # what is built on the torch front end: the other front ends, the torch mode, the rest
    "numpy": 3, "jax": 3, "dask": 3, "_mode": 3, "nn": 3, "sampling": 3, "data": 3, "init": 3,
    "montecarlo": 3, "distributions": 3, "distributed": 3,
    "_tools": 4, "__main__": 4,
    "": 5,  # the package itself: keystream/__init__.py exports the public names
}

#: (importer, imported) allowed against the layer order, with why (none so far).
EXCEPTIONS: set[tuple[str, str]] = set()


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        mods[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    for name in ("_native", "_kscore"):  # (compiled)
        mods[f"keystream._engines.{name}"] = (PACKAGE / "_engines", False)
    return mods


def _imports(mods: dict[str, tuple[pathlib.Path, bool]]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for mod, (path, is_pkg) in mods.items():
        if path.is_dir():
            edges[mod] = set()
            continue
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                targets = [target] + [f"{target}.{a.name}" for a in node.names]
            for target in targets:
                parts = target.split(".")
                for i in range(1, len(parts) + 1):  # (importing a.b.c imports a and a.b)
                    name = ".".join(parts[:i])
                    if name in mods and name != mod and not mod.startswith(name + "."):
                        found.add(name)
        edges[mod] = found
    return edges


MODULES = _modules()
EDGES = _imports(MODULES)


def _layer(mod: str) -> int:
    parts = mod.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else ""]


def test_every_module_has_a_layer():
    assert all(_layer(m) is not None for m in MODULES)


@pytest.mark.parametrize("mod", sorted(MODULES))
def test_imports_follow_the_layers(mod):
    wrong = sorted(t for t in EDGES[mod] if _layer(t) > _layer(mod) and (mod, t) not in EXCEPTIONS)
    assert not wrong, f"{mod} (layer {_layer(mod)}) imports {wrong}"


def test_no_import_circle():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(EDGES[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = []
            while True:
                w = stack.pop()
                members.append(w)
                if w == v:
                    break
            if len(members) > 1:
                circles.append(sorted(members))

    for v in sorted(EDGES):
        if v not in index:
            visit(v)
    assert not circles, f"modules that import each other in a circle: {circles}"
