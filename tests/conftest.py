"""Personas built once (a superuser, a read-only support agent, two customers) and the
CI rule that nothing may be skipped there."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Permission

from tests.factories import CustomerFactory, StaffFactory

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """With CI=true a skipped test fails: PostgreSQL, Redis and the browser must be there."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.longrepr = f"Skipped in CI, which must run everything: {reason}"


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
