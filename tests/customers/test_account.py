"""A customer's own account: profile, password, and an e-mail change that waits for the
new address (issue 11 point 1); and who may open each new page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import reverse

from customers import signup
from customers.client_forms import EMAIL_TAKEN
from customers.models import Customer
from tests.factories import DEFAULT_PASSWORD

NEW_PASSWORD = "a long and unusual passphrase 42"
INVALID_LINK = "This link is not valid"


def profile_data(**overrides: str) -> dict[str, str]:
    return {
        "first_name": "Robert",
        "last_name": "Owner",
        "company": "Owner SARL",
        "vat_number": "FR40303265045",
        "phone": "+33 1 23 45 67 89",
        "address_line1": "1 rue de la Paix",
        "address_line2": "",
        "postcode": "75002",
        "city": "Paris",
        "state": "",
        "country": "FR",
        "language": "fr",
        **overrides,
    }


def link_in(message) -> str:
    match = re.search(r"https?://[^/\s]+(/client/\S+)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def signed_in(client, customer):
    client.force_login(customer.user)
    return customer


# Profile ---------------------------------------------------------------------------------


def test_the_profile_shows_the_customers_own_details(client, signed_in):
    page = client.get(reverse("client:account"))

    assert page.status_code == 200
    assert 'value="Bob"' in page.text
    assert "bob@example.com" in page.text
    assert "Save</button>" in page.text
    assert 'name="notes"' not in page.text


def test_the_profile_update_saves_every_field_and_the_logins_name(client, signed_in):
    response = client.post(reverse("client:account"), profile_data())

    assert response.status_code == 302
    assert response.url == reverse("client:account")
    customer = Customer.objects.select_related("user").get(pk=signed_in.pk)
    assert (customer.first_name, customer.company, customer.vat_number) == (
        "Robert",
        "Owner SARL",
        "FR40303265045",
    )
    assert (customer.city, customer.country.code, customer.language) == ("Paris", "FR", "fr")
    assert customer.user.full_name == "Robert Owner"


def test_the_profile_cannot_touch_staff_notes_the_login_or_the_confirmation(client, signed_in):
    signed_in.notes = "pays late"
    signed_in.save(update_fields=["notes"])

    client.post(
        reverse("client:account"),
        profile_data(
            notes="", email="mallory@example.com", is_staff="on", awaiting_email_confirmation="on"
        ),
    )

    customer = Customer.objects.select_related("user").get(pk=signed_in.pk)
    assert customer.notes == "pays late"
    assert customer.user.email == "bob@example.com"
    assert customer.user.is_staff is False
    assert customer.awaiting_email_confirmation is False


@pytest.mark.parametrize(
    "overrides",
    [
        {"phone": "call me maybe"},
        {"first_name": "a\x00b"},
        {"country": "XX"},
        {"language": "klingon"},
        {"vat_number": "9" * 40},
        {"first_name": ""},
    ],
)
def test_bad_profile_input_answers_a_form_error(client, signed_in, overrides):
    response = client.post(reverse("client:account"), profile_data(**overrides))

    assert response.status_code == 200
    assert 'class="invalid-feedback' in response.text
    assert Customer.objects.get(pk=signed_in.pk).first_name == "Bob"


# Password --------------------------------------------------------------------------------


def test_the_password_change_keeps_the_session_and_takes_the_new_password(client, signed_in):
    response = client.post(
        reverse("client:account_password"),
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert client.get(reverse("client:home")).status_code == 200
    signed_in.user.refresh_from_db()
    assert signed_in.user.check_password(NEW_PASSWORD)


def test_the_password_change_refuses_a_wrong_old_password(client, signed_in):
    response = client.post(
        reverse("client:account_password"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.text
    signed_in.user.refresh_from_db()
    assert signed_in.user.check_password(DEFAULT_PASSWORD)


# E-mail change ---------------------------------------------------------------------------


def ask_change(client, email: str = "robert@example.com", password: str = DEFAULT_PASSWORD):
    return client.post(reverse("client:account_email"), {"email": email, "password": password})


def test_asking_a_change_sends_the_link_to_the_new_address_and_a_notice_to_the_old(
    client, signed_in, mailoutbox
):
    response = ask_change(client, "Robert@Example.com")

    assert response.status_code == 302
    link, notice = mailoutbox
    assert link.to == ["robert@example.com"]
    assert link_in(link).startswith("/client/account/email/confirm/")
    assert notice.to == ["bob@example.com"]
    assert "robert@example.com" in notice.body
    signed_in.user.refresh_from_db()
    assert signed_in.user.email == "bob@example.com"


def test_the_address_changes_only_once_the_link_is_confirmed(client, signed_in, mailoutbox):
    ask_change(client)
    link = link_in(mailoutbox[0])

    page = client.get(link)
    signed_in.user.refresh_from_db()
    assert "Confirm the new address</button>" in page.text
    assert signed_in.user.email == "bob@example.com"

    response = client.post(link)

    assert response.url == reverse("client:account")
    signed_in.user.refresh_from_db()
    assert signed_in.user.email == "robert@example.com"
    assert client.session[SESSION_KEY] == str(signed_in.user.pk)


def test_the_new_address_signs_in_and_the_old_no_longer_does(client, signed_in, mailoutbox):
    ask_change(client)
    client.post(link_in(mailoutbox[0]))
    client.logout()
    login = reverse("client:login")

    old = client.post(login, {"username": "bob@example.com", "password": DEFAULT_PASSWORD})
    new = client.post(login, {"username": "robert@example.com", "password": DEFAULT_PASSWORD})

    assert old.status_code == 200
    assert new.status_code == 302


def test_the_change_link_works_once(client, signed_in, mailoutbox):
    ask_change(client)
    link = link_in(mailoutbox[0])
    client.post(link)

    assert INVALID_LINK in client.post(link).text


def test_the_change_link_of_another_customer_is_refused(
    client, signed_in, other_customer, mailoutbox
):
    token = signup.make_email_change_token(other_customer.user, "mallory@example.com")
    url = reverse("client:email_change_confirm", kwargs={"email_token": token})

    response = client.post(url)

    assert INVALID_LINK in response.text
    other_customer.user.refresh_from_db()
    assert other_customer.user.email == "charlie@example.com"


def test_a_tampered_change_link_is_refused(client, signed_in, mailoutbox):
    ask_change(client)
    link = link_in(mailoutbox[0])
    tampered = link.replace("/confirm/", "/confirm/x")

    assert INVALID_LINK in client.post(tampered).text
    signed_in.user.refresh_from_db()
    assert signed_in.user.email == "bob@example.com"


def test_an_expired_change_link_is_refused(client, customer, mailoutbox):
    with time_machine.travel("2030-01-01 12:00:00+00:00", tick=False) as clock:
        client.force_login(customer.user)
        ask_change(client)
        clock.shift(signup.EMAIL_CHANGE_MAX_AGE + timedelta(minutes=1))

        response = client.post(link_in(mailoutbox[0]))

    assert INVALID_LINK in response.text
    customer.user.refresh_from_db()
    assert customer.user.email == "bob@example.com"


def test_a_change_to_a_taken_address_is_refused_in_the_form(
    client, signed_in, other_customer, mailoutbox
):
    response = ask_change(client, "Charlie@example.com")

    assert response.status_code == 200
    assert EMAIL_TAKEN in response.text
    assert mailoutbox == []


def test_a_change_needs_the_password(client, signed_in, mailoutbox):
    response = ask_change(client, password="wrong")

    assert "Your password is not correct." in response.text
    assert mailoutbox == []


def test_an_address_taken_after_the_link_was_sent_changes_nothing(
    client, signed_in, mailoutbox, other_customer
):
    ask_change(client)
    other_customer.user.email = "robert@example.com"
    other_customer.user.save(update_fields=["email"])

    response = client.post(link_in(mailoutbox[0]), follow=True)

    assert "Another account now has this address" in response.text
    signed_in.user.refresh_from_db()
    assert signed_in.user.email == "bob@example.com"


# Who may open each page ------------------------------------------------------------------

ACCOUNT_PAGES = ["client:account", "client:account_password", "client:account_email"]
PUBLIC_PAGES = [
    "client:signup_sent",
    "client:signup_resend",
    "client:password_reset",
    "client:password_reset_sent",
]


def _url(name: str) -> str:
    if name == "client:email_change_confirm":
        return reverse(name, kwargs={"email_token": "x"})
    if name == "client:signup_confirm":
        return reverse(name, kwargs={"uidb64": "MQ", "confirm_token": "x-y"})
    return reverse(name)


@pytest.mark.parametrize("name", [*ACCOUNT_PAGES, "client:email_change_confirm"])
def test_anonymous_is_sent_to_the_client_login_from_the_account_pages(client, db, name):
    url = _url(name)

    for response in (client.get(url), client.post(url)):
        assert response.status_code == 302
        assert response.url == f"{reverse('client:login')}?next={url}"


@pytest.mark.parametrize("name", [*ACCOUNT_PAGES, "client:email_change_confirm"])
def test_a_customer_opens_the_account_pages(client, signed_in, name):
    assert client.get(_url(name)).status_code == 200


@pytest.mark.parametrize("name", [*ACCOUNT_PAGES, "client:email_change_confirm", "client:signup"])
def test_staff_are_refused_the_account_pages_and_the_sign_up(client, admin_user, name):
    client.force_login(admin_user)
    url = _url(name)

    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403


@pytest.mark.parametrize("name", [*PUBLIC_PAGES, "client:signup", "client:signup_confirm"])
def test_anonymous_opens_the_sign_up_and_reset_pages(client, db, name):
    assert client.get(_url(name)).status_code == 200


@pytest.mark.parametrize("name", [*PUBLIC_PAGES, "client:signup_confirm"])
@pytest.mark.parametrize("persona", ["customer", "admin_user"])
def test_the_pages_for_visitors_open_to_anyone_signed_in_too(request, client, name, persona):
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))

    assert client.get(_url(name)).status_code == 200


@pytest.mark.parametrize(
    "name",
    [
        "client:signup",
        "client:signup_resend",
        "client:signup_confirm",
        "client:password_reset",
        *ACCOUNT_PAGES,
        "client:email_change_confirm",
    ],
)
def test_every_state_change_needs_the_csrf_token(db, customer, name):
    csrf_client = Client(enforce_csrf_checks=True)
    if name.startswith("client:account") or name == "client:email_change_confirm":
        csrf_client.force_login(customer.user)

    assert csrf_client.post(_url(name), {"email": "x@example.com"}).status_code == 403


def test_the_navigation_links_to_the_account(client, signed_in):
    page = client.get(reverse("client:home"))

    assert f'href="{reverse("client:account")}"' in page.text
