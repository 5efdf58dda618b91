"""The staff page of payment gateways: who may open it, turning gateways on and off, and
settings whose secrets are stored encrypted and never rendered back."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from billing.models import CompanyProfile, GatewaySettings
from customers.models import StaffActivity
from tests.factories import StaffFactory
from tests.fakes.stripe_api import SECRET_KEY, WEBHOOK_SECRET

LIST = "/admin/billing/gateways/"
STRIPE = "/admin/billing/gateways/stripe/"
NEW_SECRET = "sk_test_rotated9876543210"


@pytest.fixture
def gateway_admin(db):
    """Gina: staff holding billing.change_gatewaysettings and nothing else."""
    user = StaffFactory(email="gina@example.com", full_name="Gina Gateways")
    user.user_permissions.set(Permission.objects.filter(codename="change_gatewaysettings"))
    return user


def stripe_form(**values: str) -> dict[str, str]:
    data = {
        "settings-secret_key": SECRET_KEY,
        "settings-publishable_key": "pk_test_public123",
        "settings-webhook_secret": WEBHOOK_SECRET,
    }
    data.update({f"settings-{name}": value for name, value in values.items()})
    return data


@pytest.mark.parametrize(
    ("persona", "status"),
    [
        ("anonymous", 302),
        ("customer", 403),
        ("plain_staff", 403),
        ("support_user", 403),
        ("gateway_admin", 200),
        ("admin_user", 200),
    ],
)
@pytest.mark.parametrize("url", [LIST, STRIPE])
def test_only_staff_allowed_to_change_gateway_settings_open_the_pages(
    client, request, persona, status, url
):
    if persona != "anonymous":
        user = request.getfixturevalue(persona)
        client.force_login(getattr(user, "user", user))

    response = client.get(url)

    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize("action", ["enable", "disable"])
def test_staff_without_the_permission_cannot_switch_a_gateway(client, support_user, action):
    client.force_login(support_user)

    response = client.post(f"/admin/billing/gateways/balance/{action}/")

    assert response.status_code == 403
    assert not GatewaySettings.objects.exists()


def test_the_list_shows_every_gateway_and_what_it_still_needs(client, gateway_admin):
    client.force_login(gateway_admin)

    html = client.get(LIST).text

    for label in ("Account balance", "Bank transfer", "Card (Stripe)"):
        assert label in html
    assert "Fill in the bank details of the company profile first." in html
    assert "Set the secret key and the webhook signing secret of Stripe first." in html


def test_saving_stripe_settings_stores_them_encrypted(client, gateway_admin):
    client.force_login(gateway_admin)

    response = client.post(STRIPE, stripe_form())

    assert response.status_code == 302
    row = GatewaySettings.objects.get(key="stripe")
    assert row.settings == {
        "secret_key": SECRET_KEY,
        "publishable_key": "pk_test_public123",
        "webhook_secret": WEBHOOK_SECRET,
    }
    assert row.enabled is False
    with connection.cursor() as cursor:
        cursor.execute("SELECT settings FROM billing_gatewaysettings WHERE key = %s", ["stripe"])
        raw = cursor.fetchone()[0]
    assert SECRET_KEY not in raw
    assert WEBHOOK_SECRET not in raw


def test_stored_secrets_are_never_rendered_back(client, gateway_admin):
    GatewaySettings.objects.create(
        key="stripe",
        settings={
            "secret_key": SECRET_KEY,
            "publishable_key": "pk_test_public123",
            "webhook_secret": WEBHOOK_SECRET,
        },
    )
    client.force_login(gateway_admin)

    html = client.get(STRIPE).text

    assert SECRET_KEY not in html
    assert WEBHOOK_SECRET not in html
    assert 'type="password" name="settings-secret_key"' in html
    assert 'value="pk_test_public123"' in html  # public by design, shown to be checked
    assert "Leave empty to keep it." in html


def test_a_secret_left_empty_keeps_its_stored_value_and_a_new_one_replaces_it(
    client, gateway_admin
):
    GatewaySettings.objects.create(
        key="stripe",
        settings={
            "secret_key": SECRET_KEY,
            "publishable_key": "",
            "webhook_secret": WEBHOOK_SECRET,
        },
    )
    client.force_login(gateway_admin)

    client.post(STRIPE, stripe_form(secret_key=NEW_SECRET, webhook_secret=""))

    row = GatewaySettings.objects.get(key="stripe")
    assert row.settings["secret_key"] == NEW_SECRET
    assert row.settings["webhook_secret"] == WEBHOOK_SECRET


def test_the_activity_log_names_the_secret_that_changed_never_its_value(client, gateway_admin):
    client.force_login(gateway_admin)

    client.post(STRIPE, stripe_form())

    entry = StaffActivity.objects.get(action="payment gateway changed")
    assert entry.changes == {
        "settings": {
            "changed": True,
            "names": ["publishable_key", "secret_key", "webhook_secret"],
        }
    }
    assert SECRET_KEY not in str(entry.changes)


def test_a_key_of_the_wrong_kind_is_refused_and_nothing_is_stored(client, gateway_admin):
    client.force_login(gateway_admin)

    response = client.post(STRIPE, stripe_form(secret_key="pk_test_public123"))

    assert response.status_code == 400
    assert "A Stripe secret key starts with sk_live_ or sk_test_." in response.text
    [secret_input] = re.findall(r'<input[^>]*name="settings-secret_key"[^>]*>', response.text)
    assert "value=" not in secret_input  # what was typed is not sent back either
    assert not GatewaySettings.objects.exists()


def test_stripe_cannot_be_turned_on_before_its_keys_are_set(client, gateway_admin):
    client.force_login(gateway_admin)

    response = client.post("/admin/billing/gateways/stripe/enable/", follow=True)

    assert "Set the secret key and the webhook signing secret of Stripe first." in response.text
    assert not GatewaySettings.objects.filter(enabled=True).exists()


def test_staff_turn_a_gateway_off_and_on_again(client, gateway_admin):
    CompanyProfile.objects.filter(pk=CompanyProfile.current().pk).update(bank_details="IBAN X")
    client.force_login(gateway_admin)

    client.post("/admin/billing/gateways/bank_transfer/disable/")
    assert GatewaySettings.objects.get(key="bank_transfer").enabled is False

    client.post("/admin/billing/gateways/bank_transfer/enable/")
    assert GatewaySettings.objects.get(key="bank_transfer").enabled is True
    assert StaffActivity.objects.filter(action="payment gateway changed").count() == 2


def test_switching_a_gateway_needs_a_post(client, gateway_admin):
    client.force_login(gateway_admin)

    assert client.get("/admin/billing/gateways/balance/disable/").status_code == 405
    assert not GatewaySettings.objects.exists()


def test_an_unknown_gateway_is_a_404(client, gateway_admin):
    client.force_login(gateway_admin)

    assert client.get("/admin/billing/gateways/nope/").status_code == 404
    assert client.post("/admin/billing/gateways/nope/enable/").status_code == 404
