"""The package's layers: the lesson's core on top, wings imported by name, no import circle."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "workshop_helpers"
WINGS = ("data", "demos", "course", "tools")
# data/ sits under the lesson (session and checkpoints call it); the others sit above it.
UPPER_WINGS = ("demos", "course", "tools")


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every workshop_helpers module a file imports, lazy imports in functions included."""
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("workshop_helpers"):
                found.add(target)
                # `from . import sources` imports a module, not a name
                found.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("workshop_helpers"))
    modules = {_module(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules and name != module}


def _graph() -> dict[str, set[str]]:
    return {_module(path): _imports(path) for path in PACKAGE.rglob("*.py")}


def test_no_import_circle_lazy_imports_included():
    graph = _graph()
    # A package's __init__ importing its own modules is how a package is built, not a circle.
    edges = {
        module: {t for t in targets if not (module.endswith("__init__") or t.startswith(module))}
        for module, targets in graph.items()
    }
    edges = {m: {t for t in ts if not m.startswith(t + ".") and t != m} for m, ts in edges.items()}
    state: dict[str, str] = {}

    def visit(module, trail):
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                raise AssertionError(" -> ".join([*trail, module, target]))
            if target not in state:
                visit(target, [*trail, module])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [])


def test_the_core_never_imports_the_upper_wings_and_data_never_imports_the_core_above_it():
    graph = _graph()
    upper = tuple(f"workshop_helpers.{wing}" for wing in UPPER_WINGS)
    for module, targets in graph.items():
        if module.startswith(upper) or module in ("workshop_helpers", "workshop_helpers.__main__"):
            continue
        assert not [t for t in targets if t.startswith(upper)], module
    # data/ depends on the bottom layer only: specs, loading and paths.
    allowed = {"workshop_helpers.datasets", "workshop_helpers.paths"}
    for module, targets in graph.items():
        if module.startswith("workshop_helpers.data"):
            outside = {t for t in targets if not t.startswith("workshop_helpers.data")}
            assert outside <= allowed, (module, outside - allowed)


def test_at_most_15_modules_at_the_top_the_rest_in_named_wings():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 15, top
    assert sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()) == sorted(
        WINGS
    )


def test_the_notebooks_import_from_the_top_and_the_wings_only():
    paths = set()
    for notebook in sorted((ROOT / "notebooks").glob("*.py")):
        for node in ast.walk(ast.parse(notebook.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("workshop"):
                paths.add(node.module)
    assert paths <= {"workshop_helpers", *(f"workshop_helpers.{wing}" for wing in WINGS)}, paths
    assert len(paths) <= 8


def test_a_non_editable_wheel_holds_every_sub_package(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in PACKAGE.rglob("*.py"):
        assert path.relative_to(ROOT).as_posix() in names
