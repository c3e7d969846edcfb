"""The layers' import rules, held by reading every module's imports (those inside functions too) and by
importing in a fresh interpreter: what a lower part may never pull in."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def imported_modules(package: str) -> dict[str, set[str]]:
    """Every module of `package` (a folder under the checkout) -> the absolute module names it imports."""
    found = {}
    for path in sorted((ROOT / package.replace(".", "/")).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.ImportFrom):   # relative: resolved against the module's package
                base = module.rsplit(".", node.level)[0]
                names.add(f"{base}.{node.module}" if node.module else base)
        found[module] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> list[str]:
    return [f"{module} imports {name}" for module, names in imported_modules(package).items()
            for name in sorted(names) if name.split(".")[0] in forbidden or name.startswith(
                tuple(f + "." for f in forbidden)) or name in forbidden]


def loaded_after_import(statement: str) -> set[str]:
    """The modules a fresh interpreter holds after running `statement` in the checkout."""
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_the_jimeng_package_imports_neither_flask_nor_the_layers_above_it():
    assert offenders("app.jimeng", ("flask", "flask_smorest", "werkzeug", "app.api", "app.services",
                                    "app.factory", "config")) == []


def test_schemas_import_nothing_from_services():
    assert offenders("app.schemas", ("app.services",)) == []


def test_the_sandbox_imports_nothing_from_the_service():
    assert offenders("sandbox", ("app", "config", "wsgi")) == []


@pytest.mark.parametrize("module", ["app.jimeng.client", "app.jimeng.browser.server"])
def test_the_jimeng_client_and_the_browser_process_load_no_flask_and_no_config(module):
    loaded = loaded_after_import(f"import {module}")
    assert module in loaded
    assert {m for m in loaded if m.split(".")[0] in ("flask", "werkzeug", "config")} == set()


def test_importing_every_schema_loads_no_service():
    statement = "; ".join(f"import {m}" for m in imported_modules("app.schemas"))
    assert {m for m in loaded_after_import(statement) if m.startswith("app.services")} == set()
