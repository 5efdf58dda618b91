"""The language of a page: the customer's in the client area, the staff member's in the
administration, the browser's for a visitor; switched by a POST and remembered."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from customers.models import Customer, User
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db

SWITCH = "/language/"


def _home(client: Client) -> str:
    response = client.get(reverse("client:home"))
    assert response.status_code == 200
    return response.content.decode()


def test_a_french_customer_reads_the_client_area_in_french(client):
    customer = CustomerFactory(language="fr")
    client.force_login(customer.user)
    page = _home(client)
    assert '<html lang="fr"' in page
    assert "Factures" in page
    assert "Invoices" not in page


def test_an_english_customer_keeps_english_whatever_the_browser_says(client):
    customer = CustomerFactory(language="en")
    client.force_login(customer.user)
    page = client.get(reverse("client:home"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert '<html lang="en"' in page
    assert "Invoices" in page


def test_a_visitor_reads_the_sign_in_page_in_their_browsers_language(client):
    page = client.get(reverse("client:login"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9").content
    assert b'<html lang="fr"' in page
    page = client.get(reverse("client:login"), HTTP_ACCEPT_LANGUAGE="en-GB").content
    assert b'<html lang="en"' in page


def test_switching_saves_the_customers_language_and_goes_back(client):
    customer = CustomerFactory(language="en")
    client.force_login(customer.user)
    back = reverse("client:service_list")
    response = client.post(SWITCH, {"language": "fr", "next": back})
    assert response.status_code == 302
    assert response["Location"] == back
    customer.refresh_from_db()
    assert customer.language == "fr"
    assert response.cookies["django_language"].value == "fr"
    assert '<html lang="fr"' in _home(client)


def test_switching_changes_only_the_signed_in_customers_language(client):
    customer = CustomerFactory(language="en")
    other = CustomerFactory(language="en")
    client.force_login(customer.user)
    client.post(SWITCH, {"language": "fr", "customer": other.pk, "user": other.user.pk})
    assert Customer.objects.get(pk=other.pk).language == "en"
    assert Customer.objects.get(pk=customer.pk).language == "fr"


def test_a_staff_member_reads_the_administration_in_their_language(client):
    staff = StaffFactory(is_superuser=True, language="fr")
    client.force_login(staff)
    page = client.get(reverse("admin:service_list")).content.decode()
    assert '<html lang="fr"' in page
    assert "Se déconnecter" in page


def test_a_staff_member_without_a_choice_follows_the_browser(client):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    page = client.get(reverse("admin:service_list"), HTTP_ACCEPT_LANGUAGE="fr").content
    assert b'<html lang="fr"' in page
    page = client.get(reverse("admin:service_list"), HTTP_ACCEPT_LANGUAGE="en").content
    assert b'<html lang="en"' in page


def test_a_staff_members_switch_is_saved_on_their_account(client):
    staff = StaffFactory(is_superuser=True)
    client.force_login(staff)
    client.post(SWITCH, {"language": "fr", "next": reverse("admin:service_list")})
    assert User.objects.get(pk=staff.pk).language == "fr"
    # Saved on the account, not only in this browser's cookie.
    other_browser = Client()
    other_browser.force_login(staff)
    assert b'<html lang="fr"' in other_browser.get(reverse("admin:service_list")).content


def test_the_switch_takes_only_a_post_with_a_known_language(client):
    customer = CustomerFactory(language="en")
    client.force_login(customer.user)
    assert client.get(SWITCH, {"language": "fr"}).status_code == 405
    assert client.post(SWITCH, {"language": "es"}).status_code == 400
    customer.refresh_from_db()
    assert customer.language == "en"


def test_the_switch_never_sends_the_browser_to_another_site(client):
    response = client.post(SWITCH, {"language": "fr", "next": "https://evil.example.com/"})
    assert response.status_code == 302
    assert "evil.example.com" not in response["Location"]


def test_the_switch_needs_the_csrf_token():
    csrf_client = Client(enforce_csrf_checks=True)
    customer = CustomerFactory(language="en")
    csrf_client.force_login(customer.user)
    assert csrf_client.post(SWITCH, {"language": "fr"}).status_code == 403
    customer.refresh_from_db()
    assert customer.language == "en"


def test_the_client_area_asks_no_extra_query_for_the_language(
    client, django_assert_max_num_queries, settings
):
    """The middleware reads the customer the client area's views read anyway."""
    client.force_login(CustomerFactory(language="fr").user)
    counts = []
    for middleware in (
        settings.MIDDLEWARE,
        [name for name in settings.MIDDLEWARE if not name.endswith("PreferredLanguageMiddleware")],
    ):
        settings.MIDDLEWARE = middleware
        with django_assert_max_num_queries(50) as context:
            _home(client)
        counts.append(len(context.captured_queries))
    assert counts[0] == counts[1]


def test_the_forgotten_password_page_names_the_address_as_sign_in_does(client):
    french = client.get(reverse("client:password_reset"), HTTP_ACCEPT_LANGUAGE="fr").content
    english = client.get(reverse("client:password_reset"), HTTP_ACCEPT_LANGUAGE="en").content
    assert b"Adresse e-mail" in french
    assert b"Courriel" not in french  # Django's own word for "Email"
    assert b"E-mail address" in english
