"""The charts' words are written when the page is shown, in its language: the periodic task
stores figures only, never words in the language it ran in.

``test_the_page_writes_the_stored_charts_in_its_language`` reads the French catalogue: it
passes once ``locale/fr`` is compiled (``make messages`` then ``compilemessages``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone, translation

from dashboard import charts
from dashboard.models import ChartSnapshot
from products.choices import BillingCycle
from services.choices import ServiceStatus
from tests.factories import ServiceFactory

NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_the_snapshot_stores_figures_and_no_words(db, frozen):
    ServiceFactory(status=ServiceStatus.ACTIVE, billing_cycle=BillingCycle.MONTHLY)

    with translation.override("fr"):
        charts.refresh(timezone.now())

    stored = {chart["id"]: chart for chart in ChartSnapshot.objects.get().charts}
    for chart in stored.values():
        assert set(chart) == {"id", "kind", "labels", "series", "stacked"}
        for series in chart["series"]:
            assert set(series) == {"key", "data"}
    assert [s["key"] for s in stored["chart-weeks"]["series"]] == ["new", "ended"]
    assert [s["key"] for s in stored["chart-renewals"]["series"]] == ["services"]
    # The billing cycles by value: their names are the reader's.
    assert stored["chart-mrr"]["labels"][:2] == ["weekly", "monthly"]


def test_the_stored_figures_are_written_out_in_english(client, admin_user, frozen):
    ServiceFactory(status=ServiceStatus.ACTIVE, billing_cycle=BillingCycle.MONTHLY)
    charts.refresh(timezone.now())
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    shown = {chart.id: chart for chart in response.context["charts"]}
    assert shown["chart-mrr"].title == "Monthly recurring revenue"
    assert shown["chart-mrr"].labels[:2] == ["Weekly", "Monthly"]
    assert [s.label for s in shown["chart-weeks"].series] == ["New", "Ended"]
    assert shown["chart-renewals"].title == "Renewals due in the next 30 days"


def test_the_page_writes_the_stored_charts_in_its_language(client, admin_user, frozen):
    """Needs the compiled French catalogue (locale/fr/LC_MESSAGES/django.mo)."""
    ServiceFactory(status=ServiceStatus.ACTIVE, billing_cycle=BillingCycle.MONTHLY)
    charts.refresh(timezone.now())  # in English, the task's language
    admin_user.language = "fr"
    admin_user.save(update_fields=["language"])
    client.force_login(admin_user)

    response = client.get(reverse("admin:home"))

    shown = {chart.id: chart for chart in response.context["charts"]}
    assert shown["chart-mrr"].title == "Revenu mensuel récurrent"
    assert [s.label for s in shown["chart-weeks"].series] == ["Nouveaux", "Terminés"]
    assert "<caption>Revenu mensuel récurrent</caption>" in response.text
