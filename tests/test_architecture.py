"""Boundaries the layout promises (STYLE.md §3, §4, §7): only `store/` (and `migrations/`) talks SQL, route
handlers go through services, and every setting is documented."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokenledger.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "tokenledger"
SQL_OWNERS = ("store", "migrations")
SQL_LIBRARIES = ("sqlalchemy", "alembic")


def modules(under: Path) -> list[Path]:
    return sorted(path for path in under.rglob("*.py") if "__pycache__" not in path.parts)


def module_name(path: Path) -> str:
    """`src/tokenledger/api/deps.py` -> `tokenledger.api.deps`; a package's `__init__.py` names the package."""
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, conditional and nested ones included."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            # `from tokenledger import store` imports the package `tokenledger.store`.
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    return imports_of(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_package_is_where_the_tests_expect() -> None:
    assert (PACKAGE / "app.py").is_file()
    assert (PACKAGE / "store").is_dir() and (PACKAGE / "api" / "routes").is_dir()


def test_import_walker_sees_every_import_form() -> None:
    source = """
import sqlalchemy as sa
from alembic import op
from typing import TYPE_CHECKING
if TYPE_CHECKING:
    from sqlalchemy.orm import Session
def later():
    import json
from .. import store
from ..store.logs import insert_logs
from . import deps
"""
    found = {module for _line, module in imports_of(source, "tokenledger.api.routes")}
    assert {"sqlalchemy", "alembic", "sqlalchemy.orm", "json"} <= found
    assert {"tokenledger.store", "tokenledger.store.logs", "tokenledger.api.deps"} <= found
    in_package = {module for _line, module in imports_of("from . import deps", "tokenledger.api", is_package=True)}
    assert "tokenledger.api.deps" in in_package
    assert module_name(PACKAGE / "api" / "routes" / "users.py") == "tokenledger.api.routes.users"
    assert module_name(PACKAGE / "store" / "__init__.py") == "tokenledger.store"
    real = {module for _line, module in imported_modules(PACKAGE / "api" / "routes" / "users.py")}
    assert "tokenledger.services.accounts" in real and "fastapi" in real


def test_only_store_and_migrations_import_sqlalchemy_or_alembic() -> None:
    offenders = []
    for path in modules(PACKAGE):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in SQL_OWNERS:
            continue
        for line, module in imported_modules(path):
            if any(is_within(module, library) for library in SQL_LIBRARIES):
                offenders.append(f"{relative}:{line} imports {module}")
    assert not offenders, "SQL belongs in store/: " + "; ".join(offenders)


def test_store_does_import_sqlalchemy() -> None:
    # Guards the test above against walking the wrong tree: the store must be where SQL lives.
    found = {module for path in modules(PACKAGE / "store") for _line, module in imported_modules(path)}
    assert any(is_within(module, "sqlalchemy") for module in found)


def test_route_handlers_go_through_services() -> None:
    routes = modules(PACKAGE / "api" / "routes")
    assert len(routes) >= 5
    offenders = []
    for path in routes:
        for line, module in imported_modules(path):
            if is_within(module, "tokenledger.store") or any(is_within(module, lib) for lib in SQL_LIBRARIES):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not offenders, "route handlers must call services, not the store: " + "; ".join(offenders)


NOT_FOR_DOMAIN = ("tokenledger.store", "tokenledger.services", "tokenledger.api", "fastapi", "starlette")


def test_domain_does_no_io() -> None:
    offenders = []
    for path in modules(PACKAGE / "domain"):
        for line, module in imported_modules(path):
            if any(is_within(module, name) for name in NOT_FOR_DOMAIN):
                offenders.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not offenders, "domain/ holds types and rules only: " + "; ".join(offenders)


SETTING_NAMES = sorted(str(field.validation_alias or name).upper() for name, field in Settings.model_fields.items())


def test_every_setting_has_an_environment_name_and_a_description() -> None:
    assert len(SETTING_NAMES) == len(Settings.model_fields) >= 5
    for name, field in Settings.model_fields.items():
        assert isinstance(field.validation_alias, str), name
        assert field.description, name


@pytest.mark.parametrize("setting", SETTING_NAMES)
def test_every_setting_is_documented_in_the_readme(setting: str) -> None:
    readme = ROOT / "README.md"
    assert readme.is_file(), "README.md is missing: it must document every setting"
    assert setting in readme.read_text(encoding="utf-8"), f"README.md does not mention {setting}"
