"""Personas built once (a superuser, a read-only support agent, two customers) and the
CI rule that nothing may be skipped there."""

from __future__ import annotations

import os
from collections.abc import Generator
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.utils import timezone, translation

from services.choices import ServiceStatus
from tests.factories import (
    CustomerFactory,
    FakeServerFactory,
    ProductFactory,
    ServiceFactory,
    StaffFactory,
    complete_company,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
pytest_plugins = ["tests.celery_worker"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, Any, None]:
    """With CI=true a skipped test fails: PostgreSQL, Redis and the browser must be there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"Skipped in CI, which must run everything: {reason}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The integration tests first: with real workers they take minutes (the automation
    overlap about six), and run last they kept one of the two test processes busy alone
    at the end of the run. Otherwise the order is unchanged (the sort is stable)."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/integration/"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``postgres`` needs PostgreSQL's row locks: skipped elsewhere, which CI
    (CI=true) turns into a failure."""
    if (
        item.get_closest_marker("postgres")
        and "postgresql" not in settings.DATABASES["default"]["ENGINE"]
    ):
        pytest.skip("needs PostgreSQL: set DATABASE_URL")


@pytest.fixture(autouse=True)
def _empty_cache():
    """Pages cache figures (the counts per status) across requests: no test sees another's."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language_after_each_test() -> Generator[None, Any, None]:
    """A request in French leaves French active in its thread (``LocaleMiddleware``
    activates, nothing deactivates): the next test starts in the default language."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _complete_company(request: pytest.FixtureRequest) -> None:
    """Every test that uses the database sells as a complete French company (``COMPANY`` in
    tests/factories.py): an invoice is refused while a detail its e-invoice needs is missing
    (issue 17). Tests without the database are left alone."""
    names = set(request.fixturenames)
    marker = request.node.get_closest_marker("django_db")
    if marker is None and not names & {"db", "transactional_db", "live_server"}:
        return
    transactional = bool(names & {"transactional_db", "live_server"}) or bool(
        marker and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    complete_company()


@pytest.fixture
def admin_user(db):
    """Alice: a superuser on the staff."""
    return StaffFactory(email="alice@example.com", full_name="Alice Admin", is_superuser=True)


@pytest.fixture
def support_user(db):
    """Sam: support staff who may view but change nothing."""
    user = StaffFactory(email="sam@example.com", full_name="Sam Support")
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    return user


@pytest.fixture
def customer(db):
    """Bob: a customer who owns services."""
    return CustomerFactory(user__email="bob@example.com", first_name="Bob", last_name="Owner")


@pytest.fixture
def other_customer(db):
    """Charlie: another customer, who must never see Bob's things."""
    return CustomerFactory(
        user__email="charlie@example.com", first_name="Charlie", last_name="Other"
    )


@pytest.fixture
def plain_staff(db):
    """Pat: staff who can sign in to the administration area but holds no permission."""
    return StaffFactory(email="pat@example.com", full_name="Pat Plain")


@pytest.fixture
def make_service(db, customer):
    """Build Bob's service stored in ``status`` on a test-module server.

    The row is written directly: this is test set-up, not a state change under test.
    """

    def make(
        status: str = ServiceStatus.ACTIVE, *, fail: str = "", fail_retryable: str = "", **fields
    ):
        server = fields.pop("server", None) or FakeServerFactory(
            fail=fail, fail_retryable=fail_retryable
        )
        product = fields.pop("product", None) or ProductFactory(
            module="test", module_config={"memory_mb": 512}
        )
        defaults = {
            "customer": customer,
            "product": product,
            "module": "test",
            "server": server,
            "status": status,
            # factory_boy types XFactory() as the factory, not the model it returns.
            "external_id": "" if status == ServiceStatus.PENDING else f"res-{server.pk}-{status}",  # type: ignore[union-attr]
        }
        if status == ServiceStatus.EXPIRED:
            defaults["expires_at"] = timezone.now() - timedelta(days=2)
        return ServiceFactory(**{**defaults, **fields})

    return make
