"""Signing in to and out of the two areas, and who may reach each one."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from services.choices import ServiceStatus
from tests.factories import DEFAULT_PASSWORD, CustomerFactory, ServiceFactory, StaffFactory

STAFF_REFUSED = "This account cannot sign in to the administration area."
CLIENT_REFUSED = "This account cannot sign in to the client area."


def sign_in(client, url_name: str, email: str, password: str = DEFAULT_PASSWORD, **extra):
    return client.post(reverse(url_name), {"username": email, "password": password, **extra})


def test_staff_signs_in_and_reaches_the_dashboard(client, admin_user):
    response = sign_in(client, "admin:login", "alice@example.com")

    assert response.status_code == 302
    assert response.url == reverse("admin:home")
    home = client.get(response.url)
    assert home.status_code == 200
    assert "Alice Admin" in home.text


def test_a_customers_correct_credentials_are_refused_by_the_admin_login(client, customer):
    response = sign_in(client, "admin:login", "bob@example.com")

    assert response.status_code == 200
    assert STAFF_REFUSED in response.text
    assert SESSION_KEY not in client.session


def test_staff_credentials_are_refused_by_the_client_login(client, admin_user):
    response = sign_in(client, "client:login", "alice@example.com")

    assert response.status_code == 200
    assert CLIENT_REFUSED in response.text
    assert SESSION_KEY not in client.session


def test_a_wrong_password_gets_the_generic_error_not_the_area_message(client, customer):
    response = sign_in(client, "admin:login", "bob@example.com", password="wrong")

    assert response.status_code == 200
    assert "Please enter a correct" in response.text
    assert STAFF_REFUSED not in response.text


def test_customer_signs_in_and_sees_their_active_services_only(client, customer, other_customer):
    ServiceFactory(customer=customer, name="bob-game-server", status=ServiceStatus.ACTIVE)
    ServiceFactory(customer=other_customer, name="charlie-vps", status=ServiceStatus.ACTIVE)

    response = sign_in(client, "client:login", "bob@example.com")
    assert response.status_code == 302
    assert response.url == reverse("client:home")
    home = client.get(response.url)

    assert "bob-game-server" in home.text
    assert "charlie-vps" not in home.text


def test_a_safe_next_is_followed_after_signing_in(client, admin_user):
    response = sign_in(client, "admin:login", "alice@example.com", next="/admin/?page=2")

    assert response.url == "/admin/?page=2"


def test_an_offsite_next_is_ignored(client, customer):
    response = sign_in(client, "client:login", "bob@example.com", next="https://evil.example/")

    assert response.url == reverse("client:home")


@pytest.mark.parametrize(
    ("url_name", "login_name"),
    [("admin:home", "admin:login"), ("client:home", "client:login")],
)
def test_anonymous_is_sent_to_the_areas_login_with_next(client, db, url_name, login_name):
    url = reverse(url_name)

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == f"{reverse(login_name)}?next={url}"


def test_a_signed_in_customer_is_refused_the_administration_area(client, customer):
    client.force_login(customer.user)

    assert client.get(reverse("admin:home")).status_code == 403


def test_signed_in_staff_are_refused_the_client_area(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("client:home")).status_code == 403


@pytest.mark.parametrize("area", ["admin", "client"])
def test_logout_refuses_get(client, admin_user, area):
    client.force_login(admin_user)

    response = client.get(reverse(f"{area}:logout"))

    assert response.status_code == 405
    assert SESSION_KEY in client.session


@pytest.mark.parametrize(
    ("user_factory", "area"), [(StaffFactory, "admin"), (CustomerFactory, "client")]
)
def test_logout_with_post_signs_out_and_returns_to_the_login(client, db, user_factory, area):
    created = user_factory()
    client.force_login(getattr(created, "user", created))

    response = client.post(reverse(f"{area}:logout"))

    assert response.status_code == 302
    assert response.url == reverse(f"{area}:login")
    assert SESSION_KEY not in client.session


def test_the_email_is_case_insensitive(client, customer):
    response = sign_in(client, "client:login", "BOB@Example.COM")

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(customer.user.pk)


@pytest.mark.parametrize(
    ("user_factory", "area"), [(StaffFactory, "admin"), (CustomerFactory, "client")]
)
def test_an_inactive_user_cannot_sign_in(client, db, user_factory, area):
    created = user_factory()
    user = getattr(created, "user", created)
    user.is_active = False
    user.save(update_fields=["is_active"])

    response = sign_in(client, f"{area}:login", user.email)

    assert response.status_code == 200
    assert "Please enter a correct" in response.text
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("area", ["admin", "client"])
def test_the_login_pages_render_without_a_cdn(client, db, area):
    response = client.get(reverse(f"{area}:login"))

    assert response.status_code == 200
    assert "/static/vendor/bootstrap/bootstrap.min.css" in response.text
    assert "cdn" not in response.text.lower()
