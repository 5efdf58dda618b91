"""Staff manage customers: the list, creating, editing, the details page, and the
password-reset e-mail."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from customers.models import Customer, User
from services.choices import EventSource, ServiceStatus
from services.models import ServiceEvent, ServiceRenewal
from tests.admin_matrix import ACTION, FORM, PERSONAS, VIEW, assert_access, sign_in
from tests.factories import CustomerFactory, ServiceFactory

NEW_CUSTOMER = {
    "email": "Dana@Example.com",
    "first_name": "Dana",
    "last_name": "New",
    "company": "Dana Hosting",
    "phone": "+33 1 23 45 67 89",
    "country": "FR",
    "language": "fr",
    "notes": "Met at the fair.",
    "password1": "",
    "password2": "",
    "send_password_email": "on",
}


def edit_data(customer: Customer, **changes: str) -> dict[str, str]:
    """The edit form as the page would post it back, with ``changes``."""
    data = {
        "email": customer.user.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "country": str(customer.country),
        "language": customer.language,
    }
    return {**data, **changes}


# The permission matrix.


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    ("method", "name", "kind"),
    [
        ("get", "admin:customer_list", VIEW),
        ("get", "admin:customer_detail", VIEW),
        ("get", "admin:customer_create", FORM),
        ("post", "admin:customer_create", FORM),
        ("get", "admin:customer_edit", FORM),
        ("post", "admin:customer_edit", FORM),
        ("post", "admin:customer_password_reset", ACTION),
        ("post", "admin:customer_vat_check", ACTION),
    ],
)
def test_who_may_open_the_customer_pages(
    client, request, other_customer, persona, method, name, kind
):
    url = (
        reverse(name)
        if name.endswith(("_list", "_create"))
        else reverse(name, args=[other_customer.pk])
    )
    sign_in(client, request, persona)

    assert_access(client, method, url, persona, kind)


# The list.


def test_the_list_shows_customers_with_their_service_counts(client, admin_user, customer):
    ServiceFactory.create_batch(2, customer=customer, status=ServiceStatus.ACTIVE)
    ServiceFactory(customer=customer, status=ServiceStatus.TERMINATED)
    client.force_login(admin_user)

    response = client.get(reverse("admin:customer_list"))

    assert response.status_code == 200
    [row] = response.context["customers"]
    assert (row.service_count, row.live_service_count) == (3, 2)
    assert "Bob Owner" in response.text
    assert "bob@example.com" in response.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("bob", {"Bob"}),
        ("EXAMPLE.org", {"Erin"}),
        ("acme", {"Charlie"}),
        ("charlie other", {"Charlie"}),
        ("nobody", set()),
    ],
)
def test_the_search_looks_in_names_emails_and_companies(
    client, admin_user, customer, other_customer, query, expected
):
    other_customer.company = "ACME Hosting"
    other_customer.save()
    CustomerFactory(first_name="Erin", user__email="erin@example.org")
    client.force_login(admin_user)

    response = client.get(reverse("admin:customer_list"), {"q": query})

    assert {c.first_name for c in response.context["customers"]} == expected


def test_the_list_filters_by_country_language_and_services(
    client, admin_user, customer, other_customer
):
    other_customer.country, other_customer.language = "DE", "fr"
    other_customer.save()
    ServiceFactory(customer=customer, status=ServiceStatus.SUSPENDED)
    client.force_login(admin_user)
    url = reverse("admin:customer_list")

    def names(**params: str) -> set[str]:
        return {c.first_name for c in client.get(url, params).context["customers"]}

    assert names(country="DE") == {"Charlie"}
    assert names(language="fr") == {"Charlie"}
    assert names(services="any") == {"Bob"}
    assert names(services="none") == {"Charlie"}
    assert names(services="suspended") == {"Bob"}
    assert names(services="active") == set()


@pytest.mark.parametrize("rows", [2, 30])
def test_the_list_query_count_does_not_grow_with_the_customers(
    client, admin_user, django_assert_num_queries, rows
):
    for customer in CustomerFactory.create_batch(rows):
        ServiceFactory(customer=customer)
    client.force_login(admin_user)

    # 1. the signed-in user (a superuser: no permission query; the session is read from
    #    the cache); 2. one page of customers, joined with their logins, counting their
    #    services in correlated subqueries.
    with django_assert_num_queries(2):
        response = client.get(reverse("admin:customer_list"))

    assert len(response.context["customers"]) == min(rows, 25)


def test_the_list_pages_without_counting_the_table(client, admin_user):
    CustomerFactory.create_batch(27)
    client.force_login(admin_user)
    url = reverse("admin:customer_list")

    first = client.get(url)
    second = client.get(url, {"page": 2})

    assert first.context["page_obj"].has_next
    assert len(second.context["customers"]) == 2
    assert not second.context["page_obj"].has_next
    assert client.get(url, {"page": "x"}).status_code == 404


# Creating.


def test_staff_create_a_customer_and_their_login_who_gets_an_email(
    client, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:customer_create"), NEW_CUSTOMER)

    customer = Customer.objects.get(company="Dana Hosting")
    assert response.status_code == 302
    assert response.url == reverse("admin:customer_detail", args=[customer.pk])
    assert customer.user.email == "dana@example.com"
    assert customer.user.full_name == "Dana New"
    assert not customer.user.has_usable_password()
    assert (customer.country.code, customer.language, customer.notes) == (
        "FR",
        "fr",
        "Met at the fair.",
    )
    [mail] = mailoutbox
    assert mail.to == ["dana@example.com"]
    # In Dana's language, chosen on the form, not the staff member's.
    assert mail.subject == "Choisissez le mot de passe de votre espace client"
    assert "http://testserver/client/reset/" in mail.body


def test_staff_may_set_the_password_instead(
    client, admin_user, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(admin_user)
    data = {
        **NEW_CUSTOMER,
        "password1": "a-long-pass-phrase-42",
        "password2": "a-long-pass-phrase-42",
    }
    del data["send_password_email"]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:customer_create"), data)

    user = User.objects.get(email="dana@example.com")
    assert user.check_password("a-long-pass-phrase-42")
    assert mailoutbox == []


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"email": "BOB@example.com"},
            "email",
            "An account with this e-mail address already exists.",
        ),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"first_name": ""}, "first_name", "This field is required."),
        ({"phone": "call me"}, "phone", "Enter a phone number"),
        (
            {"password1": "a-long-pass-phrase-42", "password2": "another-pass-phrase-42"},
            "password2",
            "The two password fields didn",
        ),
        ({"password1": "short", "password2": "short"}, "password1", "too short"),
        (
            {"password1": "a-long-pass-phrase-42", "password2": "a-long-pass-phrase-42"},
            "send_password_email",
            "Set a password or send the e-mail, not both",
        ),
    ],
)
def test_an_invalid_new_customer_is_refused_with_the_error_in_the_form(
    client, admin_user, customer, changes, field, message
):
    client.force_login(admin_user)

    response = client.post(reverse("admin:customer_create"), {**NEW_CUSTOMER, **changes})

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message.replace("'", "&#x27;") in response.text
    assert 'class="alert alert-danger"' in response.text
    assert not Customer.objects.filter(company="Dana Hosting").exists()
    assert User.objects.count() == 2  # Alice and Bob: nothing half-made


# Editing.


def test_staff_edit_a_customer_and_the_email_of_their_login(client, admin_user, customer):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, email="Robert@Example.com", first_name="Robert", company="Bob & Co"),
    )

    assert response.status_code == 302
    customer.refresh_from_db()
    customer.user.refresh_from_db()
    assert (customer.first_name, customer.company) == ("Robert", "Bob & Co")
    assert customer.user.email == "robert@example.com"
    assert customer.user.full_name == "Robert Owner"


def test_the_edit_form_shows_the_current_values(client, admin_user, customer):
    client.force_login(admin_user)

    response = client.get(reverse("admin:customer_edit", args=[customer.pk]))

    assert 'value="bob@example.com"' in response.text
    assert 'value="Owner"' in response.text
    assert "password1" not in response.text


def test_a_customer_may_keep_their_own_email_in_another_case(client, admin_user, customer):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, email="BOB@example.com"),
    )

    assert response.status_code == 302


def test_editing_to_another_customers_email_is_refused(
    client, admin_user, customer, other_customer
):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_edit", args=[customer.pk]),
        edit_data(customer, email="Charlie@Example.com"),
    )

    assert response.status_code == 200
    assert response.context["form"].errors["email"] == [
        "An account with this e-mail address already exists."
    ]
    customer.user.refresh_from_db()
    assert customer.user.email == "bob@example.com"


# The details page.


def test_the_details_show_the_profile_services_renewals_history_and_notes(
    client, support_user, customer, other_customer
):
    customer.notes = "Pays late; call first."
    customer.save()
    soon = timezone.now() + timedelta(days=3)
    service = ServiceFactory(
        customer=customer, name="bob-vps", status=ServiceStatus.SUSPENDED, expires_at=soon
    )
    ServiceFactory(customer=other_customer, name="charlie-vps")
    ServiceRenewal.objects.create(
        service=service,
        old_expires_at=soon - timedelta(days=30),
        new_expires_at=soon,
        price=Decimal("12.50"),
        source=EventSource.ADMIN,
    )
    ServiceEvent.objects.create(
        service=service,
        source=EventSource.ADMIN,
        action="suspend",
        from_status=ServiceStatus.ACTIVE,
        to_status=ServiceStatus.SUSPENDED,
        reason="Unpaid invoice",
    )
    client.force_login(support_user)

    response = client.get(reverse("admin:customer_detail", args=[customer.pk]))

    text = response.text
    assert "Pays late; call first." in text
    assert "bob-vps" in text
    assert "charlie-vps" not in text
    assert '<span class="badge text-bg-danger" data-status="suspended">Suspended</span>' in text
    assert date_format(timezone.localtime(soon), "DATE_FORMAT") in text
    assert "12.50 EUR" in text
    assert "Unpaid invoice" in text
    assert "Active → Suspended" in text
    assert reverse("admin:service_detail", args=[service.pk]) in text
    # Sam may look but not change: neither the edit link nor the e-mail button.
    assert reverse("admin:customer_edit", args=[customer.pk]) not in text
    assert reverse("admin:customer_password_reset", args=[customer.pk]) not in text


def test_the_details_query_count_does_not_grow_with_the_history(
    client, admin_user, customer, django_assert_num_queries
):
    for service in ServiceFactory.create_batch(5, customer=customer):
        ServiceEvent.objects.create(service=service, source=EventSource.ADMIN, action="create")
    client.force_login(admin_user)

    # 1. the user (the session is read from the cache); 2. the customer with their login,
    # service counts and balance; 3. their latest services with products and servers;
    # 4. their latest renewals; 5. their latest events, with services and actors; 6. their
    # latest invoices and 7. orders (billing's panels); 8. their latest e-mails.
    with django_assert_num_queries(8):
        client.get(reverse("admin:customer_detail", args=[customer.pk]))


def test_an_unknown_customer_is_404(client, admin_user):
    client.force_login(admin_user)

    assert client.get(reverse("admin:customer_detail", args=[999])).status_code == 404


# The password-reset e-mail.


def test_the_reset_email_lets_the_customer_choose_a_new_password(
    client, admin_user, customer, mailoutbox
):
    client.force_login(admin_user)

    response = client.post(reverse("admin:customer_password_reset", args=[customer.pk]))

    assert response.status_code == 302
    [mail] = mailoutbox
    assert mail.to == ["bob@example.com"]
    assert mail.subject == "Reset the password of your client area"
    link = re.search(r"http://testserver(/client/reset/\S+/)", mail.body).group(1)

    client.logout()
    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    done = client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "brand-new-pass-phrase-7", "new_password2": "brand-new-pass-phrase-7"},
        follow=True,
    )
    assert done.request["PATH_INFO"] == reverse("client:password_reset_complete")
    assert client.login(username="bob@example.com", password="brand-new-pass-phrase-7")


def test_a_used_reset_link_is_refused(client, customer):
    response = client.get(reverse("client:password_reset_confirm", args=["MQ", "bad-token"]))

    assert response.status_code == 200
    assert "This link is no longer valid" in response.text


def test_no_email_goes_to_a_disabled_account(client, admin_user, customer, mailoutbox):
    customer.user.is_active = False
    customer.user.save()
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:customer_password_reset", args=[customer.pk]), follow=True
    )

    assert mailoutbox == []
    assert "This customer&#x27;s account is disabled" in response.text


def test_the_reset_email_is_post_only(client, admin_user, customer):
    client.force_login(admin_user)

    assert (
        client.get(reverse("admin:customer_password_reset", args=[customer.pk])).status_code == 405
    )
