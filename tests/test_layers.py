"""The floor plan: imports run one way, engine → dialog → {asr, tts} → core.

``joint_training`` sits beside ``engine`` on top of dialog; ``engine`` may use everything. An
upward import (``tts`` importing ``dialog``, ``dialog`` importing ``engine``, …) fails here, as do
a bare top-level import (``import engine`` instead of ``tingshuo.engine``) and an import cycle
between modules at import time.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

from tingshuo.core.paths import repo_root

ROOT = repo_root()
PACKAGES = ("core", "asr", "tts", "dialog", "joint_training", "engine")
# what each package may import from the project, besides itself
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "asr": {"core"},
    "tts": {"core"},
    "dialog": {"core", "asr", "tts"},
    "joint_training": {"core", "asr", "tts", "dialog"},
    "engine": {"core", "asr", "tts", "dialog", "joint_training"},
}


def _modules() -> dict[str, Path]:
    """Dotted module name (``tingshuo.asr.base``) → source file."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(["tingshuo", *parts])] = path
    return found


def _imports(path: Path, top_level_only: bool) -> list[tuple[int, str]]:
    """(line, module) of every import in ``path``; with ``top_level_only`` only those that run
    at import time (module body, not inside functions or ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes: list[ast.AST] = list(tree.body) if top_level_only else list(ast.walk(tree))
    out: list[tuple[int, str]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
            out += [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return out


def _package(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "tingshuo" and len(parts) > 1:
        return parts[1]
    return None


def test_every_package_folder_is_installed() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {m for m, p in _modules().items() if p.name == "__init__.py"}
    assert listed == folders


def test_imports_run_one_way() -> None:
    bad: list[str] = []
    for module, path in _modules().items():
        own = _package(module)
        assert own is not None
        for line, target in _imports(path, top_level_only=False):
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if target.split(".")[0] in PACKAGES:
                bad.append(f"{where} (bare name: use tingshuo.{target})")
            other = _package(target)
            if other is not None and other != own and other not in ALLOWED[own]:
                bad.append(f"{where} ({own} may import only {sorted(ALLOWED[own]) or 'nothing'})")
    assert not bad, "\n".join(sorted(set(bad)))


def test_every_project_import_resolves() -> None:
    """Every ``tingshuo.*`` module named by an import exists."""
    modules = _modules()
    bad = []
    for path in modules.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            bad += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {name}"
                for name in names
                if name.startswith("tingshuo.") and name not in modules
            ]
    assert not bad, "\n".join(bad)


def test_no_import_cycles() -> None:
    modules = _modules()
    graph = {
        m: {t for _, t in _imports(p, top_level_only=True) if t in modules and t != m}
        for m, p in modules.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("package", PACKAGES)
def test_package_folder_has_init(package: str) -> None:
    assert (ROOT / package / "__init__.py").is_file()


@pytest.mark.slow
def test_wheel_installs_only_the_tingshuo_namespace(tmp_path: Path) -> None:
    """``pip install .`` puts ``tingshuo`` (and its dist-info) at the top of site-packages,
    never generic ``engine``/``asr``/``tts``/``dialog`` modules; the data files come along."""
    import subprocess
    import sys
    import zipfile

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
    (wheel,) = tmp_path.glob("tingshuo-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {
        "tingshuo",
        wheel.name.split("-py")[0] + ".dist-info",
    }
    for package in PACKAGES:
        assert f"tingshuo/{package}/__init__.py" in names
    assert "tingshuo/dialog/data/customer_service_kb.yaml" in names
    assert any(n.startswith("tingshuo/engine/webui/static/") for n in names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tingshuo = tingshuo.engine.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()
