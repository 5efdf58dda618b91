"""The dashboard's charts draw in the browser, from the vendored Chart.js and the page's
JSON, under the Content-Security-Policy, with no console error."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page

from dashboard import charts
from services.choices import ServiceStatus
from tests.factories import ServiceFactory

pytestmark = pytest.mark.browser

CHARTS = ["chart-status", "chart-weeks", "chart-renewals", "chart-revenue", "chart-mrr"]


def test_every_chart_draws_under_the_policy(page: Page, live_server, admin_user):
    ServiceFactory.create_batch(3, status=ServiceStatus.ACTIVE, price=Decimal("12.00"))
    ServiceFactory(status=ServiceStatus.SUSPENDED)
    charts.refresh(timezone.now())  # the periodic task ran before the page loads
    client = Client()
    client.force_login(admin_user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{live_server.url}/admin/")
    page.wait_for_load_state("load")

    for chart_id in CHARTS:
        canvas = page.locator(f"canvas#{chart_id}")
        assert canvas.get_attribute("role") == "img"
        assert canvas.get_attribute("aria-label")
        box = canvas.bounding_box()
        assert box is not None
        assert box["width"] > 100, chart_id
        assert box["height"] > 50, chart_id
        # Chart.js drew on it, with the figures of the page's JSON.
        drawn = page.evaluate(
            "id => { const c = Chart.getChart(id); return c && c.data.datasets[0].data; }",
            chart_id,
        )
        assert drawn, chart_id
    status = page.evaluate("Chart.getChart('chart-status').data")
    counts = dict(zip(status["labels"], status["datasets"][0]["data"], strict=True))
    assert counts["Active"] == 3
    assert counts["Suspended"] == 1
    # Something was painted: not every pixel of the status chart is transparent.
    painted = page.evaluate(
        """() => { const c = document.getElementById('chart-status');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        for (let i = 3; i < d.length; i += 4) { if (d[i]) return true; } return false; }"""
    )
    assert painted
    assert errors == []  # neither a script error nor a refusal of the policy
