"""The staff service list writes its rows, sort headers and filter widgets in Python
(``services/templatetags/service_list.py``, for speed: docs/performance.md, "The anchor").
These tests pin that what it writes is what the templates it replaces wrote: Django's own
widget HTML, the status badge component, escaped values, the catalogue's texts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.http import QueryDict
from django.template import Context, Template
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.html import escape

from services.choices import STATUS_BADGES, ServiceStatus
from services.filters import ServiceFilterSet
from services.models import Service
from services.templatetags import service_list
from services.templatetags.service_list import render_widget
from tests.factories import ProductFactory, ServerFactory, ServiceFactory

URL = "/admin/services/"


def row_of(response, service: Service) -> str:
    return response.text.split(f'data-service="{service.pk}"')[1].split("</tr>")[0]


# Filter widgets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "",
        "status=active&status=expired&product={product}&server=null&module=manual"
        "&cycle=monthly&customer=1&delivery_error=true&scheduled_cancellation=false"
        "&expires_within=30&expires_after=2024-01-02&expires_before=2024-02-03"
        "&created_after=2023-01-01&created_before=2023-12-31&price_min=3.5&price_max=10"
        '&sort=-price&q=a<b"c',
        # Errors: each widget is marked invalid (class and ARIA) by Django's own rules.
        "status=bogus&product=999999&server=x&module=nope&cycle=never&customer=x"
        "&delivery_error=maybe&expires_within=-1&expires_after=2025-01-01"
        "&expires_before=2024-01-01&price_min=abc&price_max=-1&sort=zz",
    ],
    ids=["empty", "every-filter-set", "every-filter-wrong"],
)
def test_each_filter_widget_is_djangos_own_html(db, query):
    product = ProductFactory(name='Web & "Mail" <hosting>')
    ServerFactory(name="Node <1>")
    with translation.override("fr"):
        filterset = ServiceFilterSet(
            QueryDict(query.format(product=product.pk)), queryset=Service.objects.all()
        )
        filterset.is_valid()
        form = filterset.form

        for field in form:
            assert render_widget(field) == str(field), field.name
        for choice in form["status"]:
            assert render_widget(choice) == choice.tag()


@pytest.mark.parametrize("query", ["", "status=active&status=expired", "status=bogus"])
def test_the_status_check_boxes_are_what_the_template_loop_wrote(db, query):
    """``inline_checkboxes`` writes the loop it replaced, tag for tag, one box a line."""
    loop = Template(
        "{% load service_list %}{% for checkbox in field %}"
        '<div class="form-check form-check-inline">{% render_widget checkbox %}'
        '<label class="form-check-label" for="{{ checkbox.id_for_label }}">'
        "{{ checkbox.choice_label }}</label></div>{% if not forloop.last %}\n{% endif %}"
        "{% endfor %}"
    )
    with translation.override("fr"):
        filterset = ServiceFilterSet(QueryDict(query), queryset=Service.objects.all())
        filterset.is_valid()
        field = filterset.form["status"]

        written = service_list.inline_checkboxes(field)

        assert written == loop.render(Context({"field": field}))
    assert written.count('type="checkbox"') == len(ServiceStatus.choices)
    assert written.count("checked") == (2 if "active" in query else 0)


# Rows --------------------------------------------------------------------------------------


def test_each_rows_badge_is_the_status_badge_component(client, admin_user):
    services = {status: ServiceFactory(status=status) for status in ServiceStatus.values}
    client.force_login(admin_user)

    response = client.get(URL)

    for status, service in services.items():
        component = render_to_string(
            "components/status_badge.html",
            {
                "status": status,
                "label": ServiceStatus(status).label,
                "badge": STATUS_BADGES[status],
            },
        ).strip()
        assert component in row_of(response, service), status


def test_names_and_errors_are_escaped_in_every_cell(client, admin_user):
    error = "<b>refused</b> & " + "x" * 200
    service = ServiceFactory(
        name='<i>Shop</i> & "co"',
        last_delivery_error=error,
        product=ProductFactory(name="<Pro>"),
        server=ServerFactory(name="<Node>"),
    )
    client.force_login(admin_user)

    row = row_of(client.get(URL), service)

    for raw in ("<i>Shop", "<b>", "<Pro>", "<Node>"):
        assert raw not in row
    name = "&lt;i&gt;Shop&lt;/i&gt; &amp; &quot;co&quot;"
    assert f'aria-label="Select {name}"' in row
    assert f">{name}</a>" in row
    assert f'<span class="visually-hidden"> service #{service.pk} {name}</span>' in row
    # The error, cut at 120 characters, in the title of the flag.
    title = re.search(r'title="Delivery error: ([^"]*)" aria-label="Delivery error"', row)
    assert title
    assert title.group(1) == escape(error[:119]) + "…"


def test_a_scheduled_cancellation_is_flagged_with_its_date(client, admin_user):
    cancel_at = timezone.now() + timedelta(days=3)
    service = ServiceFactory(cancel_at=cancel_at)
    client.force_login(admin_user)

    row = row_of(client.get(URL), service)

    day = date_format(timezone.localtime(cancel_at), "DATE_FORMAT")
    assert f'title="Cancellation scheduled for {day}" aria-label="Cancellation scheduled"' in row


def test_a_row_reads_in_french_dates_prices_and_labels(client, admin_user):
    moment = timezone.now() + timedelta(days=40)
    service = ServiceFactory(expires_at=moment, price="1234.50", status=ServiceStatus.ACTIVE)
    client.force_login(admin_user)
    client.get(URL)  # the same days in English first: each language formats its own

    row = row_of(client.get(URL, headers={"accept-language": "fr"}), service)

    with translation.override("fr"):
        day = date_format(timezone.localtime(moment), "DATE_FORMAT")
    assert day in row
    assert "1234,50 EUR" in row
    assert "dans 40 jours" in row
    assert ">Actif</span>" in row
    assert "Sélectionner" in row


def test_a_day_is_written_in_the_time_zone_and_the_language_of_the_page(monkeypatch):
    """Each day is formatted once per format and language: two languages that share a
    format still name the months each in its own."""
    monkeypatch.setattr(service_list, "get_format", lambda name: "j F Y")
    late = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)
    written = {}
    for language in ("en", "fr"):
        with translation.override(language), timezone.override("Europe/Paris"):
            zone = timezone.get_current_timezone()
            written[language] = service_list._date_formatter(zone)(late)

    assert written == {"en": "5 December 2026", "fr": "5 décembre 2026"}
