"""Signing up from the client area: the confirmation e-mail, no sign-in before it, the
link's refusals, and a forgotten password (issue 11 point 1)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from customers.client_forms import EMAIL_TAKEN
from customers.models import Customer, User
from tests.factories import DEFAULT_PASSWORD, CustomerFactory

NEW_PASSWORD = "a long and unusual passphrase 42"
UNCONFIRMED = "Confirm your e-mail address first: we sent a link to dana@example.com."
INVALID_LINK = "This link is not valid"
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."
LIMIT = 5


@pytest.fixture(autouse=True)
def _fixed_limits(settings):
    settings.AXES_FAILURE_LIMIT = LIMIT
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def signup_data(**overrides: str) -> dict[str, str]:
    return {
        "email": "Dana@Example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "first_name": "Dana",
        "last_name": "Newcomer",
        "company": "",
        "country": "FR",
        **overrides,
    }


def sign_up(client, ip: str = "10.0.0.1", **overrides: str):
    return client.post(reverse("client:signup"), signup_data(**overrides), REMOTE_ADDR=ip)


def sign_in(client, email: str, password: str = NEW_PASSWORD):
    return client.post(reverse("client:login"), {"username": email, "password": password})


def link_in(message) -> str:
    """The path of the first link of the client area in an e-mail."""
    match = re.search(r"https?://[^/\s]+(/client/\S+)", message.body)
    assert match, message.body
    return match.group(1)


@pytest.fixture
def signed_up(client, db, mailoutbox):
    """Dana has signed up; the confirmation e-mail is the outbox's only one."""
    response = sign_up(client)
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    return Customer.objects.select_related("user").get(user__email="dana@example.com")


def test_signing_up_creates_an_inactive_customer_and_sends_the_link(client, signed_up, mailoutbox):
    user = signed_up.user

    assert user.is_active is False
    assert user.is_staff is False
    assert signed_up.awaiting_email_confirmation is True
    assert (signed_up.first_name, signed_up.country.code) == ("Dana", "FR")
    assert user.check_password(NEW_PASSWORD)
    assert mailoutbox[0].to == ["dana@example.com"]
    assert link_in(mailoutbox[0]).startswith("/client/signup/confirm/")
    page = client.get(reverse("client:signup_sent"))
    assert "We sent a link to <strong>dana@example.com</strong>" in page.text


def test_the_signup_form_uses_the_ids_and_button_the_browser_test_needs(client, db):
    page = client.get(reverse("client:signup")).text

    for field in ("email", "password1", "password2", "first_name", "last_name", "country"):
        assert f'id="id_{field}"' in page
    assert "Create my account</button>" in page


def test_sign_in_is_refused_before_confirming_with_a_way_to_resend(client, signed_up):
    response = sign_in(client, "dana@example.com")

    assert response.status_code == 200
    assert UNCONFIRMED in response.text
    assert 'id="resend-confirmation"' in response.text
    assert SESSION_KEY not in client.session


def test_a_wrong_password_on_an_unconfirmed_account_says_nothing_of_it(client, signed_up):
    response = sign_in(client, "dana@example.com", password="not the password")

    assert "Please enter a correct" in response.text
    assert "Confirm your e-mail address first" not in response.text


def test_an_account_disabled_by_staff_is_not_told_to_confirm(client, customer):
    customer.user.is_active = False
    customer.user.save(update_fields=["is_active"])

    response = sign_in(client, "bob@example.com", password=DEFAULT_PASSWORD)

    assert "Please enter a correct" in response.text
    assert "Confirm your e-mail address first" not in response.text


def test_following_the_link_shows_a_button_and_activates_nothing(client, signed_up, mailoutbox):
    page = client.get(link_in(mailoutbox[0]))

    assert page.status_code == 200
    assert "Confirm my e-mail address</button>" in page.text
    signed_up.user.refresh_from_db()
    assert signed_up.user.is_active is False


def test_confirming_activates_the_account_and_signs_in(client, signed_up, mailoutbox):
    response = client.post(link_in(mailoutbox[0]))

    assert response.status_code == 302
    assert response.url == reverse("client:home")
    signed_up.refresh_from_db()
    signed_up.user.refresh_from_db()
    assert signed_up.user.is_active is True
    assert signed_up.awaiting_email_confirmation is False
    assert client.session[SESSION_KEY] == str(signed_up.user.pk)
    assert client.get(reverse("client:home")).status_code == 200


def test_after_confirming_the_customer_signs_in_with_the_password(client, signed_up, mailoutbox):
    client.post(link_in(mailoutbox[0]))
    client.logout()

    response = sign_in(client, "dana@example.com")

    assert response.status_code == 302
    assert client.session[SESSION_KEY] == str(signed_up.user.pk)


def test_the_link_works_once(client, signed_up, mailoutbox):
    link = link_in(mailoutbox[0])
    client.post(link)
    client.logout()

    response = client.post(link)

    assert INVALID_LINK in response.text
    assert SESSION_KEY not in client.session


def test_a_tampered_link_is_refused_with_a_message(client, signed_up, mailoutbox):
    link = link_in(mailoutbox[0])
    tampered = link[:-3] + ("a" if link[-3] != "a" else "b") + link[-2:]

    response = client.post(tampered)

    assert response.status_code == 200
    assert INVALID_LINK in response.text
    signed_up.user.refresh_from_db()
    assert signed_up.user.is_active is False


def test_a_link_naming_another_user_is_refused(client, signed_up, mailoutbox, customer):
    token = link_in(mailoutbox[0]).rstrip("/").rsplit("/", 1)[1]
    uid = urlsafe_base64_encode(force_bytes(customer.user.pk))
    url = reverse("client:signup_confirm", kwargs={"uidb64": uid, "confirm_token": token})

    response = client.post(url)

    assert INVALID_LINK in response.text
    assert SESSION_KEY not in client.session


def test_an_expired_link_is_refused_with_a_message(client, db, mailoutbox, settings):
    with time_machine.travel("2030-01-01 12:00:00+00:00", tick=False) as clock:
        sign_up(client)
        link = link_in(mailoutbox[0])
        clock.shift(timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60))

        response = client.post(link)

    assert INVALID_LINK in response.text
    assert User.objects.get(email="dana@example.com").is_active is False


def test_a_password_reset_token_does_not_confirm_an_account(client, signed_up):
    user = signed_up.user
    url = reverse(
        "client:signup_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "confirm_token": default_token_generator.make_token(user),
        },
    )

    assert INVALID_LINK in client.post(url).text
    user.refresh_from_db()
    assert user.is_active is False


def test_resending_sends_a_new_working_link(client, signed_up, mailoutbox):
    response = client.post(reverse("client:signup_resend"), {"email": "dana@example.com"})

    assert response.status_code == 302
    assert len(mailoutbox) == 2
    assert client.post(link_in(mailoutbox[1])).url == reverse("client:home")


def test_resending_to_a_confirmed_or_unknown_address_sends_nothing_and_says_the_same(
    client, customer, mailoutbox
):
    known = client.post(reverse("client:signup_resend"), {"email": "bob@example.com"})
    unknown = client.post(reverse("client:signup_resend"), {"email": "nobody@example.com"})

    assert known.status_code == unknown.status_code == 302
    assert mailoutbox == []


def test_a_used_email_answers_a_form_error(client, customer, mailoutbox):
    response = sign_up(client, email="BOB@example.com")

    assert response.status_code == 200
    assert EMAIL_TAKEN in response.text
    assert Customer.objects.count() == 1
    assert mailoutbox == []


def test_a_staff_address_cannot_be_taken_by_a_sign_up(client, admin_user, mailoutbox):
    response = sign_up(client, email="alice@example.com")

    assert EMAIL_TAKEN in response.text
    assert not Customer.objects.filter(user=admin_user).exists()


def test_the_sign_up_never_makes_staff_whatever_is_posted(client, db):
    sign_up(client, is_staff="on", is_superuser="on", is_active="on")

    user = User.objects.get(email="dana@example.com")
    assert (user.is_staff, user.is_superuser, user.is_active) == (False, False, False)
    assert user.user_permissions.count() == 0


def test_signed_in_staff_are_refused_the_sign_up(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("client:signup")).status_code == 403
    assert sign_up(client).status_code == 403
    assert not User.objects.filter(email="dana@example.com").exists()


def test_a_signed_in_customer_is_sent_home_from_the_sign_up(client, customer):
    client.force_login(customer.user)

    response = client.get(reverse("client:signup"))

    assert response.status_code == 302
    assert response.url == reverse("client:home")


def test_a_weak_password_is_refused_by_djangos_validators(client, db):
    response = sign_up(client, password1="1234567", password2="1234567")

    assert response.status_code == 200
    assert "This password is too short" in response.text
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "a\x00b@example.com"},
        {"email": "x" * 10_000},
        {"first_name": "a\x00b"},
        {"last_name": "x" * 10_000},
        {"country": "<script>"},
        {"password2": "something else entirely 42"},
        {"email": ""},
    ],
)
def test_hostile_input_answers_a_form_error(client, db, overrides, mailoutbox):
    response = sign_up(client, **overrides)

    assert response.status_code == 200
    assert 'class="invalid-feedback' in response.text
    assert not User.objects.exists()
    assert mailoutbox == []


def test_sign_up_is_throttled_per_address(client, db, mailoutbox):
    for n in range(LIMIT):
        assert sign_up(client, email=f"person{n}@example.com").status_code == 302

    response = sign_up(client, email="one.more@example.com")

    assert response.status_code == 429
    assert LOCKED in response.text
    assert "Create your account" in response.text
    assert not User.objects.filter(email="one.more@example.com").exists()
    assert len(mailoutbox) == LIMIT


# Forgot my password ----------------------------------------------------------------------


def ask_reset(client, email: str, ip: str = "10.0.0.1"):
    return client.post(reverse("client:password_reset"), {"email": email}, REMOTE_ADDR=ip)


def test_a_customer_gets_a_reset_email_and_chooses_a_new_password(client, customer, mailoutbox):
    response = ask_reset(client, "BOB@example.com")
    assert response.status_code == 302
    assert response.url == reverse("client:password_reset_sent")
    assert mailoutbox[0].to == ["bob@example.com"]

    form_page = client.get(link_in(mailoutbox[0]), follow=True)
    assert "Choose a password" in form_page.text
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert done.url == reverse("client:password_reset_complete")
    assert sign_in(client, "bob@example.com").status_code == 302


def test_the_reset_answers_the_same_for_unknown_staff_and_customer_addresses(
    client, customer, admin_user, mailoutbox
):
    answers = [ask_reset(client, email) for email in ("nobody@x.com", "alice@example.com")]

    assert {a.status_code for a in answers} == {302}
    assert mailoutbox == []


def test_an_unconfirmed_account_gets_no_reset_email(client, signed_up, mailoutbox):
    ask_reset(client, "dana@example.com")

    assert len(mailoutbox) == 1  # the sign-up's only


def test_the_reset_is_throttled_even_when_every_request_is_valid(client, customer, mailoutbox):
    for _ in range(LIMIT):
        assert ask_reset(client, "bob@example.com").status_code == 302

    response = ask_reset(client, "bob@example.com")

    assert response.status_code == 429
    assert LOCKED in response.text
    assert len(mailoutbox) == LIMIT


def test_the_reset_email_staff_send_still_works(client, admin_user, mailoutbox):
    customer = CustomerFactory(user__email="erin@example.com")
    client.force_login(admin_user)

    client.post(reverse("admin:customer_password_reset", args=[customer.pk]))
    client.logout()
    page = client.get(link_in(mailoutbox[0]), follow=True)

    assert "Choose a password" in page.text
    assert 'name="new_password1"' in page.text


def test_the_login_page_links_to_the_sign_up_and_the_reset(client, db):
    page = client.get(reverse("client:login")).text

    assert f'href="{reverse("client:signup")}"' in page
    assert f'href="{reverse("client:password_reset")}"' in page
