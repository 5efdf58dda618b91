"""DESIGN.md §3: dependencies point one way.

Each app's Python files are parsed (``ast``, so comments, strings and docstrings that
name another app do not count, and imports inside functions do) and every import of
another app of the project must be one the table below allows. Migrations are left
out: Django writes their dependencies. A page of a lower app that shows what an upper
app knows gets it from a panel the upper app registers (``clientxcms.panels``), not by
importing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: app -> the other apps of the project it may import, read as DESIGN.md §3 reads.
ALLOWED: dict[str, set[str]] = {
    # Settings, URLs, the Celery app and helpers below every app: who is staff or a
    # customer (access.py) is the one thing it reads from an app.
    "clientxcms": {"customers"},
    # The periodic tasks, their runs and the settings staff change: the apps above register
    # theirs; it knows none of them.
    "automation": {"clientxcms"},
    # The user model, customer profiles and their search: they know nothing of the rest.
    "customers": {"clientxcms", "automation"},
    # Delivery knows servers and the module contract, not products, services or views.
    "delivery": {"clientxcms", "automation", "customers"},
    # Products know which module delivers them (the contract), nothing of services.
    "products": {"clientxcms", "automation", "customers", "delivery"},
    # Services use customers, products and delivery.
    "services": {"clientxcms", "automation", "customers", "products", "delivery"},
    # Billing uses services.
    "billing": {"clientxcms", "automation", "customers", "products", "delivery", "services"},
    # Only the dashboard and the demo data read every app; nothing reads them.
    "dashboard": {
        "clientxcms",
        "automation",
        "customers",
        "products",
        "delivery",
        "services",
        "billing",
    },
    "demo": {
        "clientxcms",
        "automation",
        "customers",
        "products",
        "delivery",
        "services",
        "billing",
    },
}
APPS = sorted(ALLOWED)


def imported_apps(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, app) of every import in ``path`` of an app of the project, itself included."""
    package = path.relative_to(root).parts[:-1]  # a module's package, or the package itself
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the package, ``level - 1`` packages up
                base = package[: len(package) - (node.level - 1)]
                names = [".".join([*base, node.module or ""])]
            else:
                names = [node.module or ""]
        else:
            continue
        found += [(node.lineno, name.split(".")[0]) for name in names]
    return [(line, app) for line, app in found if app in ALLOWED]


def wrong_way_imports(app: str, root: Path = ROOT) -> list[str]:
    """Every import in ``app`` (under ``root``) of an app the table does not allow it."""
    return [
        f"{path.relative_to(root)}:{line} imports {other}"
        for path in sorted((root / app).rglob("*.py"))
        if "migrations" not in path.relative_to(root).parts
        for line, other in imported_apps(path, root)
        if other != app and other not in ALLOWED[app]
    ]


@pytest.mark.parametrize("app", APPS)
def test_an_app_imports_only_the_apps_below_it(app):
    assert wrong_way_imports(app) == []


def test_every_app_of_the_project_is_in_the_table():
    from django.conf import settings

    project_apps = {name for name in settings.INSTALLED_APPS if (ROOT / name).is_dir()}

    assert project_apps <= set(ALLOWED)


def test_the_check_sees_an_import_that_points_the_wrong_way_even_inside_a_function(tmp_path):
    views = tmp_path / "customers" / "views"
    views.mkdir(parents=True)
    (views / "admin.py").write_text(
        '"""from services.models import Service is only a docstring."""\n'
        "from ..models import Customer\n"
        "def page():\n"
        "    from services.models import Service\n"
    )
    (tmp_path / "customers" / "migrations").mkdir()
    (tmp_path / "customers" / "migrations" / "0001_initial.py").write_text(
        "import services.models\n"
    )

    assert wrong_way_imports("customers", tmp_path) == [
        "customers/views/admin.py:4 imports services"
    ]
