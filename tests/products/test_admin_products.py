"""Staff manage products: the list, creating and editing one with its prices and its
module configuration, and (de)activating it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from products.models import Product, ProductPrice
from tests.admin_matrix import ACTION, FORM, PERSONAS, VIEW, assert_access, sign_in
from tests.factories import ProductFactory, ProductPriceFactory, ServiceFactory


def price_rows(*rows: dict[str, str], initial: int = 0) -> dict[str, str]:
    """The prices formset as posted: its management form, then one prefixed row each."""
    data = {
        "prices-TOTAL_FORMS": str(len(rows)),
        "prices-INITIAL_FORMS": str(initial),
        "prices-MIN_NUM_FORMS": "0",
        "prices-MAX_NUM_FORMS": "1000",
    }
    for n, row in enumerate(rows):
        data.update({f"prices-{n}-{key}": value for key, value in row.items()})
    return data


MONTHLY = {"cycle": "monthly", "price": "9.99", "setup_fee": "5", "currency": "EUR"}
ANNUALLY = {"cycle": "annually", "price": "99", "setup_fee": "0", "currency": "eur"}
EMPTY_ROW = {"cycle": "", "price": "", "setup_fee": "0", "currency": "EUR"}


def product_data(**fields: str) -> dict[str, str]:
    data = {"name": "Game server S", "slug": "", "description": "", "module": "test"}
    data["config-memory_mb"] = "1024"
    data["is_active"] = "on"
    return {**data, **fields}


# The permission matrix.


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "name", "kind"),
    [
        ("get", "admin:product_list", VIEW),
        ("get", "admin:product_create", FORM),
        ("post", "admin:product_create", FORM),
        ("get", "admin:product_edit", FORM),
        ("post", "admin:product_edit", FORM),
        ("post", "admin:product_deactivate", ACTION),
        ("post", "admin:product_activate", ACTION),
    ],
)
def test_who_may_open_the_product_pages(db, client, request, persona, method, name, kind):
    product = ProductFactory()
    url = reverse(name) if name.endswith(("_list", "_create")) else reverse(name, args=[product.pk])
    sign_in(client, request, persona)

    assert_access(client, method, url, persona, kind)


# The list.


def test_the_list_shows_each_product_with_its_prices_and_services(client, support_user):
    used = ProductFactory(name="VPS M", module="test", module_config={"memory_mb": 2048})
    ProductPriceFactory(product=used, cycle="monthly", price=Decimal("19.00"))
    ServiceFactory.create_batch(3, product=used)
    ProductFactory(name="Unused", is_active=False)
    client.force_login(support_user)

    response = client.get(reverse("admin:product_list"))

    counts = {p.name: p.service_count for p in response.context["products"]}
    assert counts == {"Unused": 0, "VPS M": 3}
    assert "Monthly: <span" in response.text
    assert "19.00 EUR" in response.text
    assert "Test panel" in response.text
    assert '<span class="badge text-bg-secondary">Inactive</span>' in response.text
    assert reverse("admin:product_create") not in response.text  # Sam may not add


@pytest.mark.parametrize("rows", [2, 30])
def test_the_list_query_count_does_not_grow_with_the_products(
    client, admin_user, django_assert_num_queries, rows
):
    for product in ProductFactory.create_batch(rows):
        ProductPriceFactory(product=product)
        ServiceFactory(product=product)
    client.force_login(admin_user)

    # 1. the user (the session is read from the cache); 2. one page of products with their
    # service counts (correlated subqueries); 3. the prices of that page's products.
    with django_assert_num_queries(3):
        response = client.get(reverse("admin:product_list"))

    assert len(response.context["products"]) == min(rows, 25)


# Creating and editing.


def test_staff_create_a_product_with_prices_and_module_configuration(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:product_create"),
        {**product_data(), **price_rows(MONTHLY, ANNUALLY, EMPTY_ROW)},
    )

    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.slug, product.module, product.is_active) == ("game-server-s", "test", True)
    assert product.module_config == {"memory_mb": 1024}
    prices = {p.cycle: (p.price, p.setup_fee, p.currency) for p in product.prices.all()}
    assert prices == {
        "monthly": (Decimal("9.99"), Decimal("5.00"), "EUR"),
        "annually": (Decimal("99.00"), Decimal("0.00"), "EUR"),
    }


def test_an_automatic_slug_does_not_collide(client, admin_user):
    ProductFactory(slug="game-server-s")
    client.force_login(admin_user)

    client.post(reverse("admin:product_create"), {**product_data(), **price_rows(MONTHLY)})

    assert Product.objects.filter(slug="game-server-s-2").exists()


def test_choosing_a_type_swaps_in_its_configuration_form(client, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:product_create")

    page = client.get(url)
    test_module = client.get(url, {"module": "test"}, headers={"HX-Request": "true"})
    manual = client.get(url, {"module": "manual"}, headers={"HX-Request": "true"})

    assert f'hx-get="{url}"' in page.text
    assert 'name="config-memory_mb"' in test_module.text
    assert "<html" not in test_module.text
    assert "The Manual module takes no module configuration." in manual.text


@pytest.mark.parametrize(
    ("data", "where", "message"),
    [
        (product_data(name=""), "form", "This field is required."),
        (product_data(module="nope"), "form", "Select a valid choice."),
        (product_data(**{"config-memory_mb": "64"}), "config", "greater than or equal to 128"),
        (product_data(**{"config-memory_mb": ""}), "config", "This field is required."),
    ],
)
def test_an_invalid_product_is_refused_with_the_error_in_the_form(
    client, admin_user, data, where, message
):
    client.force_login(admin_user)

    response = client.post(reverse("admin:product_create"), {**data, **price_rows(MONTHLY)})

    assert response.status_code == 200
    form = response.context["form"]
    errors = form.errors if where == "form" else form.settings_form.errors
    assert message in str(errors)
    assert message in response.text
    assert not Product.objects.exists()


def test_a_taken_slug_is_refused(client, admin_user):
    ProductFactory(slug="taken")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:product_create"), {**product_data(slug="taken"), **price_rows(MONTHLY)}
    )

    assert "Product with this Slug already exists." in response.text


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            (MONTHLY, {**MONTHLY, "price": "12"}),
            "A billing cycle can have only one price; listed more than once: Monthly.",
        ),
        ((EMPTY_ROW,), "Give the product at least one price."),
        (({**MONTHLY, "price": "-1"},), "Ensure this value is greater than or equal to 0."),
        (({**MONTHLY, "currency": "E1"},), "Enter a three-letter currency code, such as EUR."),
    ],
)
def test_invalid_prices_are_refused_clearly(client, admin_user, rows, message):
    client.force_login(admin_user)

    response = client.post(reverse("admin:product_create"), {**product_data(), **price_rows(*rows)})

    assert response.status_code == 200
    assert message in response.text
    assert not Product.objects.exists()


def test_the_repeated_cycle_is_flagged_on_its_row(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:product_create"), {**product_data(), **price_rows(MONTHLY, MONTHLY)}
    )

    assert response.context["formset"].forms[1].errors["cycle"] == [
        "Monthly already has a price above."
    ]


def test_staff_edit_a_product_its_prices_and_configuration(client, admin_user):
    product = ProductFactory(
        name="Old", slug="old", module="test", module_config={"memory_mb": 512}
    )
    monthly = ProductPriceFactory(product=product, cycle="monthly", price=Decimal("5"))
    weekly = ProductPriceFactory(product=product, cycle="weekly", price=Decimal("2"))
    client.force_login(admin_user)
    url = reverse("admin:product_edit", args=[product.pk])

    page = client.get(url)
    response = client.post(
        url,
        {
            **product_data(name="New", slug="old", **{"config-memory_mb": "4096"}),
            **price_rows(
                {**MONTHLY, "id": str(monthly.pk), "price": "6.50"},
                {
                    "id": str(weekly.pk),
                    "cycle": "weekly",
                    "price": "2",
                    "setup_fee": "0",
                    "currency": "EUR",
                    "DELETE": "on",
                },
                ANNUALLY,
                initial=2,
            ),
        },
    )

    assert 'value="512"' in page.text  # the stored configuration is shown
    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.name, product.module_config) == ("New", {"memory_mb": 4096})
    assert {p.cycle: p.price for p in product.prices.all()} == {
        "monthly": Decimal("6.50"),
        "annually": Decimal("99.00"),
    }


def test_a_new_row_for_a_cycle_that_already_has_a_price_is_refused(client, admin_user):
    product = ProductFactory(module="manual")
    monthly = ProductPriceFactory(product=product, cycle="monthly")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:product_edit", args=[product.pk]),
        {
            **product_data(module="manual", slug=product.slug),
            **price_rows({**MONTHLY, "id": str(monthly.pk)}, MONTHLY, initial=1),
        },
    )

    assert response.status_code == 200
    assert "listed more than once: Monthly" in response.text
    assert product.prices.count() == 1


def test_changing_the_type_drops_the_old_configuration(client, admin_user):
    product = ProductFactory(module="test", module_config={"memory_mb": 512})
    ProductPriceFactory(product=product)
    client.force_login(admin_user)
    price = product.prices.get()

    response = client.post(
        reverse("admin:product_edit", args=[product.pk]),
        {
            **product_data(module="manual", slug=product.slug),
            **price_rows({**MONTHLY, "id": str(price.pk)}, initial=1),
        },
    )

    assert response.status_code == 302
    product.refresh_from_db()
    assert (product.module, product.module_config) == ("manual", {})


# Activation.


def test_staff_deactivate_and_reactivate_a_product(client, admin_user):
    product = ProductFactory(is_active=True)
    client.force_login(admin_user)

    client.post(reverse("admin:product_deactivate", args=[product.pk]))
    product.refresh_from_db()
    assert not product.is_active

    response = client.post(
        reverse("admin:product_activate", args=[product.pk]), {"next": "/admin/products/?page=1"}
    )
    product.refresh_from_db()
    assert product.is_active
    assert response.url == "/admin/products/?page=1"


def test_activation_ignores_a_next_to_another_site(client, admin_user):
    product = ProductFactory()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:product_deactivate", args=[product.pk]), {"next": "https://evil.example/"}
    )

    assert response.url == reverse("admin:product_list")


def test_deactivating_an_unknown_product_is_404(client, admin_user):
    client.force_login(admin_user)

    assert client.post(reverse("admin:product_deactivate", args=[999])).status_code == 404
    assert not ProductPrice.objects.exists()
