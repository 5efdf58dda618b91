"""Staff two-factor sign-in: enrolment, the code after the password, recovery codes, the
setting that requires it for everyone, and an administrator's reset."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from customers import two_factor
from customers.models import StaffActivity, User
from tests.factories import DEFAULT_PASSWORD, StaffFactory

VERIFY = reverse("admin:login_verify")
ENROL = reverse("admin:two_factor")


def current_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the authenticator app shows now, or ``steps_ahead`` periods from now.

    django-otp refuses a code of a period already used (enrolment used this one) and
    accepts the next period's, as phones run a little fast: sign-ins after enrolment
    therefore type the next one.
    """
    value = totp(device.bin_key, device.step, device.t0 - steps_ahead * device.step, device.digits)
    return f"{value:0{device.digits}d}"


def enrol(client, user: User) -> tuple[TOTPDevice, list[str]]:
    """Sign ``user`` in with the password, enrol through the page, return the device and codes."""
    client.force_login(user)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(ENROL, {"code": current_code(device)})
    assert response.status_code == 200
    codes = re.findall(r'<code class="user-select-all">([a-z0-9]+)</code>', response.text)
    return TOTPDevice.objects.get(pk=device.pk), codes


def password_sign_in(client, user: User, next_url: str = ""):
    data = {"username": user.email, "password": DEFAULT_PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(reverse("admin:login"), data)


@pytest.fixture
def enrolled(client, admin_user):
    """Alice enrolled, then signed out: her next sign-in asks for a code."""
    device, codes = enrol(client, admin_user)
    client.logout()
    return device, codes


def test_the_enrolment_page_shows_a_qr_code_and_the_secret(client, admin_user):
    client.force_login(admin_user)

    response = client.get(ENROL)

    device = TOTPDevice.objects.get(user=admin_user)
    assert response.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in response.text
    assert two_factor.secret_text(device) in response.text
    assert not device.confirmed
    assert not re.search(r"<script(?![^>]*\bsrc=)", response.text)  # no inline script
    assert " style=" not in response.text


def test_enrolling_confirms_the_device_and_shows_ten_recovery_codes_once(client, admin_user):
    device, codes = enrol(client, admin_user)

    admin_user.refresh_from_db()
    assert device.confirmed
    assert admin_user.two_factor_enabled
    assert len(codes) == 10
    assert sorted(codes) == sorted(
        StaticToken.objects.filter(device__user=admin_user).values_list("token", flat=True)
    )
    again = client.get(ENROL)
    assert not any(code in again.text for code in codes)
    assert StaffActivity.objects.filter(actor=admin_user, action="two-factor enrolled").exists()


def test_a_wrong_enrolment_code_leaves_two_factor_off(client, admin_user):
    client.force_login(admin_user)
    client.get(ENROL)

    response = client.post(ENROL, {"code": "000000"})

    admin_user.refresh_from_db()
    assert "That code does not match" in response.text
    assert not admin_user.two_factor_enabled
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()


def test_after_the_password_an_enrolled_staff_member_is_asked_for_a_code(client, enrolled):
    response = password_sign_in(client, User.objects.get(email="alice@example.com"))

    assert response.status_code == 302
    assert response.url == f"{VERIFY}?{urlencode({'next': reverse('admin:home')})}"
    home = client.get(reverse("admin:home"))
    assert home.status_code == 302
    assert home.url.startswith(VERIFY)


def test_the_right_code_opens_the_administration_and_the_page_asked_for(client, enrolled):
    device, _ = enrolled
    password_sign_in(client, device.user, next_url="/admin/customers/")

    response = client.post(VERIFY, {"code": current_code(device, 1), "next": "/admin/customers/"})

    assert response.status_code == 302
    assert response.url == "/admin/customers/"
    assert client.get(reverse("admin:home")).status_code == 200


def test_a_wrong_code_is_refused_and_recorded(client, enrolled):
    device, _ = enrolled
    password_sign_in(client, device.user)

    valid = {current_code(device, step) for step in (-1, 0, 1)}
    wrong = next(code for code in ("123456", "654321", "111111", "222222") if code not in valid)

    response = client.post(VERIFY, {"code": wrong})

    assert response.status_code == 200
    assert "That code is not valid" in response.text
    assert client.get(reverse("admin:home")).status_code == 302
    assert StaffActivity.objects.filter(action="two-factor code refused").count() == 1


def test_an_offsite_next_after_the_code_is_ignored(client, enrolled):
    device, _ = enrolled
    password_sign_in(client, device.user)

    response = client.post(
        VERIFY, {"code": current_code(device, 1), "next": "https://evil.example/"}
    )

    assert response.url == reverse("admin:home")


def test_a_recovery_code_works_once(client, enrolled):
    device, codes = enrolled
    password_sign_in(client, device.user)

    first = client.post(VERIFY, {"code": codes[0]})
    assert first.status_code == 302
    assert client.get(reverse("admin:home")).status_code == 200
    client.logout()
    password_sign_in(client, device.user)
    second = client.post(VERIFY, {"code": codes[0]})

    assert second.status_code == 200
    assert client.get(reverse("admin:home")).status_code == 302
    assert StaticToken.objects.filter(device__user=device.user).count() == 9


def test_staff_without_a_device_sign_in_with_the_password_alone(client, support_user):
    response = password_sign_in(client, support_user)

    assert response.url == reverse("admin:home")
    assert client.get(reverse("admin:home")).status_code == 200


def test_requiring_two_factor_sends_staff_without_it_to_enrolment(client, support_user, settings):
    settings.STAFF_REQUIRE_2FA = True
    client.force_login(support_user)

    response = client.get(reverse("admin:customer_list"))

    assert response.status_code == 302
    assert response.url == f"{ENROL}?next={reverse('admin:customer_list')}"
    assert client.get(ENROL).status_code == 200


def test_requiring_two_factor_lets_enrolled_and_verified_staff_through(
    client, admin_user, settings
):
    settings.STAFF_REQUIRE_2FA = True
    enrol(client, admin_user)  # confirming the device verifies the session

    assert client.get(reverse("admin:customer_list")).status_code == 200


def test_customers_are_never_asked_for_a_code(client, customer, settings):
    settings.STAFF_REQUIRE_2FA = True
    client.force_login(customer.user)

    assert client.get(reverse("client:home")).status_code == 200


def test_a_customer_cannot_open_the_second_step(client, customer):
    client.force_login(customer.user)

    assert client.get(VERIFY).status_code == 403


# Resetting a colleague's devices.


@pytest.fixture
def enrolled_agent(client, db):
    agent = StaffFactory(email="agent@example.com")
    enrol(client, agent)
    client.logout()
    return User.objects.get(pk=agent.pk)


def test_the_staff_page_lists_who_has_two_factor(client, admin_user, enrolled_agent):
    client.force_login(admin_user)

    response = client.get(reverse("admin:staff_list"))

    assert response.status_code == 200
    assert "agent@example.com" in response.text
    assert reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]) in response.text


def test_an_administrator_resets_a_colleagues_devices(client, admin_user, enrolled_agent):
    client.force_login(admin_user)

    response = client.post(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    enrolled_agent.refresh_from_db()
    assert response.status_code == 302
    assert not enrolled_agent.two_factor_enabled
    assert not TOTPDevice.objects.filter(user=enrolled_agent).exists()
    assert not StaticDevice.objects.filter(user=enrolled_agent).exists()
    entry = StaffActivity.objects.get(action="two-factor reset")
    assert (entry.actor, entry.target_id) == (admin_user, str(enrolled_agent.pk))
    password_sign_in(client, enrolled_agent)
    assert client.get(reverse("admin:home")).status_code == 200


def test_staff_with_the_reset_permission_may_reset(client, enrolled_agent):
    lead = StaffFactory()
    lead.user_permissions.add(Permission.objects.get(codename="reset_staff_2fa"))
    client.force_login(lead)

    client.post(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    assert not TOTPDevice.objects.filter(user=enrolled_agent).exists()


@pytest.mark.parametrize("persona", ["support_user", "plain_staff"])
def test_staff_without_the_permission_get_403_and_reset_nothing(
    client, request, enrolled_agent, persona
):
    client.force_login(request.getfixturevalue(persona))

    listing = client.get(reverse("admin:staff_list"))
    reset = client.post(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    assert (listing.status_code, reset.status_code) == (403, 403)
    assert TOTPDevice.objects.filter(user=enrolled_agent, confirmed=True).exists()


def test_the_reset_refuses_get(client, admin_user, enrolled_agent):
    client.force_login(admin_user)

    response = client.get(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    assert response.status_code == 405
    assert TOTPDevice.objects.filter(user=enrolled_agent).exists()


def test_the_reset_refuses_a_post_without_csrf(admin_user, enrolled_agent):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(admin_user)

    response = csrf_client.post(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    assert response.status_code == 403
    assert TOTPDevice.objects.filter(user=enrolled_agent).exists()


def test_a_customer_account_cannot_be_reset_from_the_staff_page(client, admin_user, customer):
    client.force_login(admin_user)

    response = client.post(reverse("admin:staff_two_factor_reset", args=[customer.user.pk]))

    assert response.status_code == 404


def test_an_unverified_session_of_an_enrolled_administrator_cannot_reset(
    client, enrolled, enrolled_agent
):
    device, _ = enrolled
    password_sign_in(client, device.user)

    response = client.post(reverse("admin:staff_two_factor_reset", args=[enrolled_agent.pk]))

    assert response.status_code == 302
    assert response.url.startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=enrolled_agent).exists()
    assert SESSION_KEY in client.session


def test_right_after_a_wrong_code_the_wait_is_explained(client, enrolled):
    device, _ = enrolled
    password_sign_in(client, device.user)
    client.post(VERIFY, {"code": "not-a-code"})  # counts against the recovery codes only
    client.post(VERIFY, {"code": "12345678"})  # a wrong authenticator code: a wait starts

    response = client.post(VERIFY, {"code": current_code(device, 1)})

    assert "Too many wrong codes" in response.text
    assert client.get(reverse("admin:home")).status_code == 302
