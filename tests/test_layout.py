"""The README's layout rule, checked on the code: interfaces on top, then flows → tasks → services →
rules/models; a module imports only from its own layer or below, a rule is a pure function, and a service, a
task module and a model module never share a name."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from perfcycle.settings import PROJECT_ROOT

INTERFACES = (
    "perfcycle.__main__",
    "perfcycle.cli",
    "perfcycle.commands",
    "perfcycle.web",
    "perfcycle.orchestration",
    "perfcycle.serve",
    "perfcycle.ui",
    "perfcycle.embedded_app",
    "perfcycle.background",
    "perfcycle.demo_life",
)
FOUNDATION = (
    "perfcycle.settings",
    "perfcycle.policy",
    "perfcycle.money",
    "perfcycle.dimensions",
)  # configuration and values
LAYERS = ["interface", "flow", "task", "service", "rule, model or foundation"]
NOT_IN_A_RULE = ("prefect", "sqlmodel", "sqlalchemy", "models", "fastapi", "starlette")
NAMED_APART = ("perfcycle", "tasks", "models")  # the services (top level only), the task modules, the model modules
RETIRED_NAMES = ("windows",)  # a name that meant a different thing in each layer


def layer(module: str) -> int | None:
    """The layer of a module of the project (0 is the top), None for one from elsewhere."""
    if module.startswith(INTERFACES):
        return 0
    if module.split(".")[0] == "flows":
        return 1
    if module.split(".")[0] == "tasks":
        return 2
    if module.startswith(("perfcycle.rules", *FOUNDATION)) or module.split(".")[0] == "models":
        return 4
    if module.split(".")[0] == "perfcycle":
        return 3
    return None


def imports(path: Path) -> list[tuple[int, str]]:
    """Every absolute import of a module, at any depth (imports inside functions count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return found


def project_modules() -> list[tuple[str, Path]]:
    paths = [p for folder in ("perfcycle", "flows", "tasks", "models") for p in (PROJECT_ROOT / folder).rglob("*.py")]
    return sorted(
        (".".join(p.relative_to(PROJECT_ROOT).with_suffix("").parts), p) for p in paths if "migrations" not in p.parts
    )


def test_every_module_imports_only_from_its_own_layer_or_below() -> None:
    upward = []
    for module, path in project_modules():
        mine = layer(module)
        assert mine is not None, module
        for line, imported in imports(path):
            theirs = layer(imported)
            if theirs is not None and theirs < mine:
                upward.append(f"{module}:{line} ({LAYERS[mine]}) imports {imported} ({LAYERS[theirs]})")
    assert upward == []


def test_a_rule_knows_no_database_no_prefect_and_no_service() -> None:
    impure = []
    for module, path in project_modules():
        if not module.startswith("perfcycle.rules"):
            continue
        for line, imported in imports(path):
            outside = imported.split(".")[0] in NOT_IN_A_RULE
            service = layer(imported) is not None and not imported.startswith(("perfcycle.rules", *FOUNDATION))
            if outside or service:
                impure.append(f"{module}:{line} imports {imported}")
    assert impure == []


def shared_names(root: Path) -> dict[str, list[str]]:
    """Each module name found in more than one of the folders that must name their modules apart, with the
    modules that share it (a package's `__init__` and `__main__` are no topic)."""
    owners: dict[str, list[str]] = {}
    for folder in NAMED_APART:
        for path in sorted((root / folder).glob("*.py")):
            if path.stem not in ("__init__", "__main__"):
                owners.setdefault(path.stem, []).append(f"{folder}.{path.stem}")
    return {name: modules for name, modules in owners.items() if len(modules) > 1}


def test_a_service_a_task_module_and_a_model_module_never_share_a_name() -> None:
    assert shared_names(PROJECT_ROOT) == {}


def test_no_module_keeps_a_retired_name() -> None:
    retired = [module for module, _ in project_modules() if set(module.split(".")) & set(RETIRED_NAMES)]
    assert retired == []


def test_the_check_sees_a_shared_name(tmp_path: Path) -> None:
    """The checker itself: a task module named as a service is found; a rule may share a service's name."""
    for folder, name in [("perfcycle", "collecting"), ("tasks", "collecting"), ("tasks", "__init__")]:
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / f"{name}.py").write_text("", encoding="utf-8")
    (tmp_path / "perfcycle" / "rules").mkdir()
    (tmp_path / "perfcycle" / "rules" / "collecting.py").write_text("", encoding="utf-8")
    (tmp_path / "perfcycle" / "__init__.py").write_text("", encoding="utf-8")
    assert shared_names(tmp_path) == {"collecting": ["perfcycle.collecting", "tasks.collecting"]}


def test_every_module_imports_first_in_a_fresh_process() -> None:
    """No import cycle breaks a module imported before the others (as `perfcycle web` imports its routes). The
    models stay loaded: their tables are declared once per process."""
    modules = [m for m, _ in project_modules() if not m.endswith("__main__") and not m.startswith("models")]
    script = (
        "import importlib, sys\n"
        "import models\n"
        "failed = []\n"
        f"for name in {modules!r}:\n"
        "    for loaded in [m for m in sys.modules if m.split('.')[0] in ('perfcycle', 'flows', 'tasks')]:\n"
        "        del sys.modules[loaded]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError as exc:\n"
        "        failed.append(f'{name}: {exc}')\n"
        "print('\\n'.join(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""


def test_the_checks_see_an_upward_import(tmp_path: Path) -> None:
    """The checker itself: a task importing a flow is found, wherever the import sits."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from flows.annual_cycle import annual_cycle\n", encoding="utf-8")
    assert imports(module) == [(2, "flows.annual_cycle")]
    assert layer("flows.annual_cycle") == 1 < layer("tasks.cycle") == 2  # type: ignore[operator]
