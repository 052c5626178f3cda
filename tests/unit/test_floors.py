"""The floors of the house: every import runs down (or stays inside its own package), none runs up,
there are no import circles, and the kernel does not pull in the web layer."""

from __future__ import annotations

import ast
import subprocess
import sys

from techan import PROJECT_ROOT

# Lowest first. A package may import its own modules and any package on a lower floor, nothing else.
FLOORS = [("core",), ("web",), ("knowledge",), ("actions", "handoff"), ("calls",), ("techan",)]
FLOOR = {package: level for level, packages in enumerate(FLOORS) for package in packages}


def _modules() -> dict[str, ast.Module]:
    modules = {}
    for package in FLOOR:
        folder = PROJECT_ROOT / package
        for path in sorted(folder.rglob("*.py")) if folder.is_dir() else []:
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return modules


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports under ``if TYPE_CHECKING:`` (types only; never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            lines |= {child.lineno for child in ast.walk(node) if isinstance(child, (ast.Import, ast.ImportFrom))}
    return lines


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Our modules that ``name`` imports, at run time (module level or inside functions)."""
    skip = _type_checking_only(tree)
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {target for target in targets if target in known and target != name}
    return found


def test_no_import_runs_up_or_sideways():
    modules = _modules()
    wrong = []
    for name, tree in modules.items():
        package = name.split(".")[0]
        for target in _imports(name, tree, set(modules)):
            other = target.split(".")[0]
            if other != package and FLOOR[other] >= FLOOR[package]:
                wrong.append(f"{name} imports {target}")
    assert not wrong, "imports that run up or sideways:\n" + "\n".join(sorted(wrong))


def test_no_import_circles():
    modules = _modules()
    graph = {name: _imports(name, tree, set(modules)) for name, tree in modules.items()}
    # A package imports its __init__ when any of its modules is imported: count that edge too.
    for name in graph:
        parent = name.rpartition(".")[0]
        if parent in graph:
            graph[name].add(parent)
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open" and not (node.startswith(target + ".")):
                cycles.append(" -> ".join([*path[path.index(target):], target]) if target in path else target)
            elif target not in state:
                visit(target, [*path, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import circles:\n" + "\n".join(cycles)


def test_the_kernel_does_not_import_the_web_layer():
    probe = "import sys, core.settings, core.db, core.accounts, core.bot_payload; " \
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('aiohttp', 'web', 'handoff', 'techan')))"
    out = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
