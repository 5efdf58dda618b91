"""Each filter and each search field of the service list, and how bad input is refused.

Most tests call ``filter_services`` (what the list, the export and the bulk actions run);
a few go through the page to check what a person sees.
"""

from __future__ import annotations

import datetime as dt
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.http import QueryDict
from django.utils import timezone, translation

from products.choices import BillingCycle
from services.choices import ServiceStatus
from services.filters import (
    InvalidFilters,
    filter_services,
    parse_identifier,
    service_filterset,
)
from tests.factories import (
    CustomerFactory,
    FakeServerFactory,
    ProductFactory,
    ServerFactory,
    ServiceFactory,
)

URL = "/admin/services/"


def matching(user, query: str) -> set[str]:
    """The names of the services ``query`` (a URL query string) selects."""
    return set(filter_services(QueryDict(query), user=user).values_list("name", flat=True))


def aware(year: int, month: int, day: int, hour: int = 12) -> dt.datetime:
    return timezone.make_aware(dt.datetime(year, month, day, hour))


# Filters -----------------------------------------------------------------------------------


def test_no_filter_selects_every_service(admin_user):
    ServiceFactory.create_batch(3)

    assert len(matching(admin_user, "")) == 3


def test_status_takes_several_values_at_once(admin_user):
    ServiceFactory(name="a", status=ServiceStatus.ACTIVE)
    ServiceFactory(name="s", status=ServiceStatus.SUSPENDED)
    ServiceFactory(name="t", status=ServiceStatus.TERMINATED)

    assert matching(admin_user, "status=active&status=suspended") == {"a", "s"}
    assert matching(admin_user, "status=terminated") == {"t"}


def test_statuses_are_written_into_the_query_so_each_tab_keeps_its_plan(admin_user):
    """A status sent as a parameter had its page planned again on every request
    (clientxcms.queries.ChoiceLiteral); written in the text, it is no parameter at all."""
    services = filter_services(QueryDict("status=active&status=suspended"), user=admin_user)

    sql, params = services.query.sql_with_params()

    assert "IN ('active', 'suspended')" in sql
    assert "active" not in params
    assert "suspended" not in params


def test_product_filters_by_product_or_by_custom_services(admin_user):
    product = ProductFactory()
    ServiceFactory(name="mine", product=product)
    ServiceFactory(name="other")
    ServiceFactory(name="custom", product=None)

    assert matching(admin_user, f"product={product.pk}") == {"mine"}
    assert matching(admin_user, "product=null") == {"custom"}


def test_server_filters_by_server_or_by_no_server(admin_user):
    server = ServerFactory()
    ServiceFactory(name="on it", server=server)
    ServiceFactory(name="elsewhere", server=ServerFactory())
    ServiceFactory(name="nowhere", server=None)

    assert matching(admin_user, f"server={server.pk}") == {"on it"}
    assert matching(admin_user, "server=null") == {"nowhere"}


def test_module_filters_by_module_type(admin_user):
    ServiceFactory(name="test one", product=ProductFactory(module="test"))
    ServiceFactory(name="manual one")

    assert matching(admin_user, "module=test") == {"test one"}


def test_cycle_filters_by_billing_cycle(admin_user):
    ServiceFactory(name="yearly", billing_cycle=BillingCycle.ANNUALLY)
    ServiceFactory(name="monthly", billing_cycle=BillingCycle.MONTHLY)

    assert matching(admin_user, "cycle=annually") == {"yearly"}


def test_customer_filters_by_customer_id(admin_user, customer, other_customer):
    ServiceFactory(name="bob's", customer=customer)
    ServiceFactory(name="charlie's", customer=other_customer)

    assert matching(admin_user, f"customer={customer.pk}") == {"bob's"}


def test_expiration_between_two_dates_includes_both_days(admin_user):
    ServiceFactory(name="before", expires_at=aware(2030, 1, 9, 23))
    ServiceFactory(name="first day", expires_at=aware(2030, 1, 10, 0))
    ServiceFactory(name="last day", expires_at=aware(2030, 1, 20, 23))
    ServiceFactory(name="after", expires_at=aware(2030, 1, 21, 0))
    ServiceFactory(name="never", expires_at=None, billing_cycle=BillingCycle.ONE_TIME)

    query = "expires_after=2030-01-10&expires_before=2030-01-20"
    assert matching(admin_user, query) == {"first day", "last day"}
    assert matching(admin_user, "expires_after=2030-01-21") == {"after"}
    assert matching(admin_user, "expires_before=2030-01-09") == {"before"}


def test_expires_within_n_days_leaves_out_the_past_and_the_later(admin_user):
    now = timezone.now()
    ServiceFactory(name="expired", expires_at=now - timedelta(days=1))
    ServiceFactory(name="in 3 days", expires_at=now + timedelta(days=3))
    ServiceFactory(name="in 10 days", expires_at=now + timedelta(days=10))

    assert matching(admin_user, "expires_within=7") == {"in 3 days"}


def test_creation_between_two_dates_includes_both_days(admin_user):
    ServiceFactory(name="old", created_at=aware(2024, 3, 1))
    ServiceFactory(name="in range", created_at=aware(2024, 3, 15))
    ServiceFactory(name="new", created_at=aware(2024, 4, 1))

    assert matching(admin_user, "created_after=2024-03-02&created_before=2024-03-31") == {
        "in range"
    }


def test_price_range_includes_both_bounds(admin_user):
    for price in ("4.99", "5.00", "10.00", "10.01"):
        ServiceFactory(name=price, price=Decimal(price))

    assert matching(admin_user, "price_min=5&price_max=10") == {"5.00", "10.00"}


def test_delivery_error_yes_and_no(admin_user):
    ServiceFactory(name="failed", last_delivery_error="Panel unreachable")
    ServiceFactory(name="fine")

    assert matching(admin_user, "delivery_error=true") == {"failed"}
    assert matching(admin_user, "delivery_error=false") == {"fine"}


def test_scheduled_cancellation_yes_and_no(admin_user):
    ServiceFactory(name="leaving", cancel_at=timezone.now() + timedelta(days=5))
    ServiceFactory(name="staying")

    assert matching(admin_user, "scheduled_cancellation=true") == {"leaving"}
    assert matching(admin_user, "scheduled_cancellation=false") == {"staying"}


def test_filters_combine(admin_user):
    server = ServerFactory()
    ServiceFactory(name="hit", server=server, status=ServiceStatus.ACTIVE, price=Decimal(20))
    ServiceFactory(name="wrong status", server=server, status=ServiceStatus.PENDING)
    ServiceFactory(name="too cheap", server=server, status=ServiceStatus.ACTIVE, price=Decimal(1))

    assert matching(admin_user, f"server={server.pk}&status=active&price_min=10") == {"hit"}


def test_the_filter_form_is_built_once_yet_speaks_each_request_s_language_and_sees_new_rows(
    admin_user,
):
    first = service_filterset(QueryDict(""), user=admin_user)
    assert first.form["product"].label == "Product"
    added = ProductFactory(name="Added after the first form")

    with translation.override("fr"):
        second = service_filterset(QueryDict(""), user=admin_user)
        labels = [str(second.form[name].label) for name in ("product", "status")]
        statuses = [str(label) for _, label in second.form.fields["status"].choices]
        products = [str(label) for _, label in second.form.fields["product"].choices]

    assert second.get_form_class() is first.get_form_class()
    assert labels == ["Produit", "Statut"]
    assert "Actif" in statuses
    assert added.name in products


def test_each_filter_set_has_filters_of_its_own_bound_to_it(admin_user):
    # The declared filters are copied one level down (services.filters.FiltersCopiedOneLevel),
    # not deep-copied: what each filter set sets on its filters must still be its own.
    alice = ServiceFactory(name="Alice's", customer=CustomerFactory(last_name="Alicesson"))
    ServiceFactory(name="Bob's", customer=CustomerFactory(last_name="Bobsson"))
    first = service_filterset(QueryDict("q=Alicesson"), user=admin_user)
    second = service_filterset(QueryDict("q=Bobsson"), user=admin_user)

    for name, own in first.filters.items():
        assert own is not second.filters[name]
        assert own.parent is first
    search = first.filters["q"]
    assert search.filter.f is search
    assert second.filters["q"].filter.f is second.filters["q"]
    assert first.is_valid()
    assert second.is_valid()
    assert list(first.qs.values_list("pk", flat=True)) == [alice.pk]


def test_filter_forms_share_their_fields_and_mark_errors_only_on_their_own_page(admin_user):
    # services.filters.SharedFields: no form changes the fields it shares with the others;
    # a field with errors is marked as it is rendered (InvalidMarkingBoundField).
    first = service_filterset(QueryDict("status=bogus"), user=admin_user)
    second = service_filterset(QueryDict(""), user=admin_user)
    assert not first.is_valid()
    assert second.is_valid()

    for name, field in first.form.fields.items():
        assert field is second.form.fields[name]
    status = first.form.fields["status"]
    assert status.widget.attrs["class"] == "form-check-input"
    assert first.form.fields["product"].widget.attrs["class"] == "form-select"
    assert first.form.fields["expires_within"].widget.attrs["class"] == "form-control"

    marked = re.findall(
        r'<input type="checkbox"[^>]* class="form-check-input is-invalid"',
        str(first.form["status"]),
    )
    assert len(marked) == len(ServiceStatus.choices)
    assert "is-invalid" not in str(second.form["status"])
    assert 'aria-invalid="true"' in str(first.form["status"])
    assert status.widget.attrs["class"] == "form-check-input"  # unchanged by rendering


def test_a_shared_product_menu_reads_the_products_each_time(admin_user):
    before = service_filterset(QueryDict(""), user=admin_user)
    assert "Added later" not in str(before.form["product"])

    ProductFactory(name="Added later")

    after = service_filterset(QueryDict(""), user=admin_user)
    assert "Added later" in str(after.form["product"])
    assert "Added later" in str(before.form["product"])


def test_unknown_parameters_are_ignored(admin_user):
    ServiceFactory(name="one")

    assert matching(admin_user, "cursor=abc&per_page=50&format=csv") == {"one"}


# Search ------------------------------------------------------------------------------------


@pytest.fixture
def searchable(db):
    bob = CustomerFactory(
        first_name="Roberta", last_name="Quill", user__email="roberta@quill.example"
    )
    return {
        "by customer": ServiceFactory(name="Alpha", customer=bob),
        "by product": ServiceFactory(name="Bravo", product=ProductFactory(name="Zeppelin VPS")),
        "by name": ServiceFactory(name="Minecraft Kingdom"),
        "noise": ServiceFactory(name="Other"),
    }


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("roberta", {"Alpha"}),
        ("QUILL", {"Alpha"}),
        ("Roberta Quill", {"Alpha"}),
        ("quill.example", {"Alpha"}),
        ("roberta@quill.example", {"Alpha"}),
        ("zeppelin", {"Bravo"}),
        ("kingdom", {"Minecraft Kingdom"}),
        ("craft", {"Minecraft Kingdom"}),
        ("nothing like it", set()),
    ],
    ids=[
        "first name",
        "last name, any case",
        "full name",
        "part of the e-mail",
        "whole e-mail",
        "product name",
        "service name",
        "part of a word",
        "no match",
    ],
)
@pytest.mark.parametrize(
    "strategy", ["customers by id", "customers by a hashed list of ids", "customers as a subquery"]
)
def test_search_matches_each_field(admin_user, searchable, term, expected, strategy, monkeypatch):
    if strategy == "customers by a hashed list of ids":
        # As many customers as a common name finds: their ids looked up by a hash.
        monkeypatch.setattr("services.filters.AnyOf.INDEXED", 0)
    if strategy == "customers as a subquery":
        # Every term matches "too many" customers to write their ids into the query.
        monkeypatch.setattr("services.filters.CUSTOMER_IDS", -1)
    query = QueryDict(mutable=True)
    query["q"] = term

    assert matching(admin_user, query.urlencode()) == expected


def test_search_by_id_matches_that_service_only(admin_user, searchable):
    target = searchable["by name"]

    assert matching(admin_user, f"q={target.pk}") == {"Minecraft Kingdom"}
    assert matching(admin_user, f"q=%23{target.pk}") == {"Minecraft Kingdom"}


def test_search_by_uuid_matches_that_service_only(admin_user, searchable):
    target = searchable["by product"]

    assert matching(admin_user, f"q={target.uuid}") == {"Bravo"}
    assert matching(admin_user, f"q={target.uuid.hex}") == {"Bravo"}


def test_digits_that_are_no_service_id_are_searched_as_text(admin_user):
    ServiceFactory(name="Backup 987654")

    assert matching(admin_user, "q=987654") == {"Backup 987654"}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("42", 42),
        ("#42", 42),
        (" 7 ", 7),
        ("0", None),
        ("9" * 30, None),
        ("12ab", None),
        ("3f2b0c1e-8d4a-4c55-9a77-0a1b2c3d4e5f", "uuid"),
        ("not-a-uuid-but-36-characters-long-xx", None),
    ],
)
def test_what_counts_as_an_identifier(term, expected):
    parsed = parse_identifier(term)
    if expected == "uuid":
        assert str(parsed) == term
    else:
        assert parsed == expected


# Invalid input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=sleeping", "Status: Select a valid choice. sleeping is not one of"),
        ("product=999999", "Product: Select a valid choice."),
        ("customer=999999", "Customer id: No customer has this id."),
        ("customer=abc", "Customer id: No customer has this id."),
        ("cycle=fortnightly", "Billing cycle: Select a valid choice."),
        ("module=nope", "Module type: Select a valid choice."),
        ("expires_after=31/02/2030", "Expires from: Enter a valid date."),
        ("expires_within=-1", "Expires within (days): Ensure this value is greater than"),
        ("expires_within=soon", "Expires within (days): Enter a whole number."),
        ("price_min=-5", "Price from: Ensure this value is greater than or equal to 0."),
        ("price_max=cheap", "Price up to: Enter a number."),
        (
            "expires_after=2030-02-01&expires_before=2030-01-01",
            "Expires until: The expiration range ends before it starts.",
        ),
        (
            "created_after=2030-02-01&created_before=2030-01-01",
            "Created until: The creation range ends before it starts.",
        ),
        ("price_min=10&price_max=5", "Price up to: The minimum price is above the maximum"),
        ("q=" + "x" * 201, "Search: Ensure this value has at most 200 characters"),
    ],
)
def test_invalid_filters_show_an_error_above_an_empty_table(client, admin_user, query, message):
    ServiceFactory()
    client.force_login(admin_user)

    response = client.get(f"{URL}?{query}")

    assert response.status_code == 200
    assert response.context["services"] == []
    assert any(error.startswith(message) for error in response.context["filter_errors"]), (
        response.context["filter_errors"]
    )
    errors = response.text.split('id="filter-errors"')[1].split("</div>")[0]
    assert "cannot be applied" in errors


def test_invalid_filters_open_the_filter_panel(client, admin_user):
    client.force_login(admin_user)

    response = client.get(URL, {"price_min": "-1"})

    assert 'class="collapse show" id="filter-panel"' in response.text


def test_a_folded_filter_panel_asks_for_its_fields_when_it_opens(
    client, admin_user, django_assert_num_queries
):
    """With no filter set the panel is folded: the page leaves out its fields (and the
    product and server menus' queries) and asks for them when the panel opens."""
    ProductFactory(name="Minecraft <Java>")
    FakeServerFactory(name="EU-1")
    client.force_login(admin_user)

    page = client.get(URL, {"status": "active", "q": "bob"}).text

    assert 'class="collapse" id="filter-panel"' in page
    assert 'name="product"' not in page
    assert 'hx-get="/admin/services/?fragment=filters"' in page
    assert 'hx-trigger="show.bs.collapse from:#filter-panel once"' in page
    # The statuses stay in the page: a search from a status tab keeps its status.
    assert 'value="active" class="form-check-input" id="id_status_1" checked' in page

    # 1. the user (the session is read from the cache); 2. the products' menu; 3. the
    # servers'.
    with django_assert_num_queries(3):
        cells = client.get(URL, {"fragment": "filters"}, headers={"HX-Request": "true"})
    assert "<html" not in cells.text
    assert "Minecraft &lt;Java&gt;</option>" in cells.text
    assert "EU-1</option>" in cells.text
    assert 'name="price_max"' in cells.text
    assert 'name="status"' not in cells.text


def test_a_set_filter_opens_the_panel_with_its_fields_in_the_page(client, admin_user):
    client.force_login(admin_user)

    page = client.get(URL, {"cycle": "monthly"}).text

    assert 'class="collapse show" id="filter-panel"' in page
    assert '<option value="monthly" selected>' in page
    assert "data-filter-cells" not in page


def test_filter_services_refuses_invalid_filters_rather_than_dropping_them(admin_user):
    ServiceFactory(status=ServiceStatus.ACTIVE)

    with pytest.raises(InvalidFilters) as raised:
        filter_services(QueryDict("status=active&price_min=-1"), user=admin_user)

    assert "price_min" in raised.value.errors


@pytest.mark.parametrize("persona", ["plain_staff", "customer"])
def test_filter_services_refuses_people_who_may_not_view_services(db, request, persona):
    person = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        filter_services(QueryDict(""), user=getattr(person, "user", person))


def test_filter_services_returns_the_lists_order(admin_user):
    ServiceFactory(name="b", price=Decimal(2))
    ServiceFactory(name="a", price=Decimal(1))
    ServiceFactory(name="c", price=Decimal(3))

    services = filter_services(QueryDict("sort=-price"), user=admin_user)

    assert list(services.values_list("name", flat=True)) == ["c", "b", "a"]


def test_the_filter_form_keeps_every_value_in_the_url(client, admin_user):
    server = FakeServerFactory(name="EU-1")
    client.force_login(admin_user)

    response = client.get(
        URL,
        {
            "q": "bob",
            "status": ["active", "suspended"],
            "server": server.pk,
            "price_min": "5",
            "expires_after": "2030-01-01",
            "delivery_error": "true",
            "sort": "-price",
        },
    )

    html = response.text
    assert 'name="q" value="bob"' in html
    assert 'value="active" class="form-check-input" id="id_status_1" checked' in html
    assert f'<option value="{server.pk}" selected>EU-1</option>' in html
    assert 'name="price_min" value="5"' in html
    assert 'name="expires_after" value="2030-01-01"' in html
    assert '<option value="true" selected>Yes</option>' in html
    assert '<input type="hidden" name="sort" value="-price">' in html
    assert response.context["active_filters"] == 4


def test_a_term_with_an_at_sign_searches_only_the_customers_e_mails(admin_user):
    ServiceFactory(name="mail", customer=CustomerFactory(user__email="ops@acme.example"))
    ServiceFactory(name="ops@acme.example backup")

    assert matching(admin_user, "q=ops%40acme.example") == {"mail"}


def test_filter_services_refuses_a_deleted_account():
    with pytest.raises(PermissionDenied):
        filter_services(QueryDict(""), user=None)


def test_choosing_several_statuses_adds_no_distinct(admin_user):
    """DISTINCT would make PostgreSQL sort every joined column of every matching row."""
    services = filter_services(QueryDict("status=active&status=suspended"), user=admin_user)

    assert "DISTINCT" not in str(services.query)
