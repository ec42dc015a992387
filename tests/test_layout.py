"""The package's layout as DESIGN.md draws it: the front door at the root, imports one way, signals by registry.

Read from the source with ``ast``, so each rule fails the moment a change breaks it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from overlap import engines
from overlap import signals as registry

PACKAGE = Path(__file__).resolve().parent.parent / "overlap"

# Layers, front door first: a module may import its own layer and the ones below it, never one above.
LAYERS = {
    "overlap.cli": 0, "overlap.api": 0, "overlap.checks": 0,
    "overlap.report": 1, "overlap.weights": 1,
    "overlap.pipeline": 2,
    "overlap.scoring": 3,
    "overlap.signals": 4,
    "overlap.index": 5, "overlap.text": 5, "overlap.engines": 5,
    "overlap.io": 6,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    for prefix in sorted(LAYERS, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return LAYERS[prefix]
    return None


def _modules() -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(tree: ast.Module) -> set[str]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("overlap"):
            out |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("overlap")}
    return out


def test_the_root_holds_only_the_front_door() -> None:
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 6, root
    assert {"cli.py", "api.py", "__init__.py"} <= set(root)


def test_every_module_has_a_layer_and_imports_only_its_own_or_lower_ones() -> None:
    modules = _modules()
    unplaced = [m for m in modules if m != "overlap" and _layer(m) is None]
    assert not unplaced, f"modules outside every layer: {unplaced}"
    upward = sorted(
        (m, target) for m, tree in modules.items() if m != "overlap"
        for target in _imports(tree)
        if target in modules and target != "overlap" and _layer(target) < _layer(m)
    )
    assert not upward, f"imports pointing up the layers: {upward}"


def test_no_import_circles_between_modules() -> None:
    modules = _modules()
    graph = {m: {t for t in _imports(tree) if t in modules and t != m and t != "overlap"}
             for m, tree in modules.items()}
    # A package's __init__ importing its own submodules is how a package declares itself, not a circle.
    graph = {m: {t for t in ts if not t.startswith(m + ".")} for m, ts in graph.items()}
    state: dict[str, int] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                pytest.fail("import circle: " + " -> ".join([*path[path.index(target):], target]))
            if target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_no_file_outside_signals_names_a_signal() -> None:
    names = {*registry.names(), *registry.EXAMPLE_MODULES}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "signals") in path.parents:
            continue
        tree = ast.parse(path.read_text())
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                if node.value in names:
                    found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.value!r}")
    assert not found, found


def test_a_toy_engine_joins_by_registration_and_runs_the_real_pipeline(tmp_path) -> None:
    """An engine defined here, registered, builds and scans an index equal to the local engine's."""
    from overlap.io import bundled, read_dataset
    from overlap.pipeline.build import build_index
    from overlap.pipeline.scan import scan_examples

    calls: list[int] = []

    class ReversedEngine:
        """Runs tasks last to first, and hands the results back in order: order must not matter."""

        def __init__(self, workers, address, setup):
            self.setup = setup

        def map(self, fn, items):
            items = list(items)
            if self.setup:
                self.setup(1)
            results = [fn(item) for item in reversed(items)]
            calls.append(len(items))
            return reversed(results)

    engines.register("reversed", ReversedEngine)
    try:
        sources = bundled.reference_sources()[:2]
        toy = build_index(sources, tmp_path / "toy", signals="ngram", holdout_rate=0.0,
                          engine=engines.Engine("reversed"))
        local = build_index(sources, tmp_path / "local", signals="ngram", holdout_rate=0.0)
        assert calls and calls[0] == len(sources)
        assert [s["counts"] for s in toy.shards] == [s["counts"] for s in local.shards]
        examples, _ = read_dataset(bundled.sample_dataset())
        examples = examples[:40]
        columns = ["id", "ngram_containment", "ngram_doc_id", "familiarity", "label"]
        assert scan_examples(examples, tmp_path / "toy", engine=engines.Engine("reversed")).select(columns).equals(
            scan_examples(examples, tmp_path / "local").select(columns))
    finally:
        engines.unregister("reversed")
    with pytest.raises(ValueError, match="unknown engine 'reversed'"):
        engines.Engine("reversed")


# --- tests mirror the package (tests/README.md) ---------------------------------------------

TESTS = PACKAGE.parent / "tests"


def mirrored_test(module: Path) -> Path:
    """Where a module's tests live: overlap/a/b.py -> tests/a/test_b.py, overlap/a/__init__.py -> tests/a/test_init.py."""
    relative = module.relative_to(PACKAGE)
    name = "init" if relative.stem == "__init__" else relative.stem
    return TESTS / relative.parent / f"test_{name}.py"


def test_mirrored_test_paths():
    assert mirrored_test(PACKAGE / "signals" / "ngram" / "index.py") == TESTS / "signals" / "ngram" / "test_index.py"
    assert mirrored_test(PACKAGE / "cli.py") == TESTS / "test_cli.py"
    assert mirrored_test(PACKAGE / "signals" / "lm" / "__init__.py") == TESTS / "signals" / "lm" / "test_init.py"


def test_tests_mirror_the_package():
    """At least 90% of the package's modules (every .py file but an empty __init__.py) have their mirrored test module."""
    modules = [p for p in sorted(PACKAGE.rglob("*.py"))
               if not (p.name == "__init__.py" and not p.read_text(encoding="utf-8").strip())]
    missing = [str(p.relative_to(PACKAGE.parent)) for p in modules if not mirrored_test(p).is_file()]
    covered = 1 - len(missing) / len(modules)
    assert covered >= 0.9, (f"{len(modules) - len(missing)}/{len(modules)} modules have a mirrored test module "
                            f"({covered:.0%}); missing: " + ", ".join(missing))
