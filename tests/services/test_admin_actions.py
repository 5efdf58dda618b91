"""The actions of a service's details page: offered for the right statuses, run through
the lifecycle, and refused with the lifecycle's message otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from services.choices import ServiceStatus
from services.models import Service, ServiceEvent
from tests.factories import StaffFactory

S = ServiceStatus

#: Each action, what it posts, the statuses it is offered for (DESIGN.md §2), and the
#: status it leaves the service in (None: deleted).
ACTIONS = {
    "deliver": ({}, {S.PENDING}, S.ACTIVE),
    "suspend": ({"reason": "Unpaid", "notify": "on"}, {S.ACTIVE}, S.SUSPENDED),
    "unsuspend": ({"notify": "on"}, {S.SUSPENDED}, S.ACTIVE),
    "renew": ({"cycles": "1"}, {S.ACTIVE, S.SUSPENDED, S.EXPIRED}, None),
    "shift_expiration": (
        {"direction": "add", "days": "3"},
        {S.PENDING, S.ACTIVE, S.SUSPENDED, S.EXPIRED},
        None,
    ),
    "cancel": ({"when": "now"}, {S.PENDING, S.ACTIVE, S.SUSPENDED, S.EXPIRED}, S.CANCELLED),
    "terminate": ({"reason": "Abuse"}, {S.ACTIVE, S.SUSPENDED, S.EXPIRED}, S.TERMINATED),
    "delete": ({"reason": "Duplicate"}, {S.PENDING, S.CANCELLED, S.TERMINATED}, None),
}
#: What renewing an expired service does, and what the others keep.
AFTER_RENEW = {S.EXPIRED: S.ACTIVE}


@pytest.fixture
def staff(client, admin_user):
    client.force_login(admin_user)
    return admin_user


def action_url(service, action: str) -> str:
    return f"/admin/services/{service.pk}/actions/{action}/"


def post(client, service, action: str, **data):
    prefixed = {f"{action}-{key}": value for key, value in data.items()}
    return client.post(action_url(service, action), prefixed)


def said(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in get_messages(response.wsgi_request)]


def offered(client, service) -> set[str]:
    return {
        offer.action.key
        for offer in client.get(f"/admin/services/{service.pk}/").context["actions"]
    }


def test_the_endpoint_lives_at_its_url(make_service):
    service = make_service()

    assert reverse("admin:service_action", args=[service.pk, "suspend"]) == action_url(
        service, "suspend"
    )


@pytest.mark.parametrize("status", list(S))
def test_the_page_offers_exactly_the_actions_valid_for_the_status(
    client, staff, make_service, status
):
    service = make_service(status)

    assert offered(client, service) == {
        action for action, (_, statuses, _) in ACTIONS.items() if status in statuses
    }


@pytest.mark.parametrize("status", list(S))
@pytest.mark.parametrize("action", list(ACTIONS))
def test_each_action_runs_where_it_is_offered_and_is_refused_elsewhere(
    client, staff, make_service, action, status
):
    data, statuses, after = ACTIONS[action]
    service = make_service(status)
    events = ServiceEvent.objects.count()

    response = post(client, service, action, **data)

    assert response.status_code == 302
    [(level, message)] = said(response)
    if status in statuses:
        assert level == "success", message
        if action == "delete":
            assert response.url == "/admin/services/"
            assert not Service.objects.filter(pk=service.pk).exists()
            return
        service.refresh_from_db()
        expected = after or (AFTER_RENEW.get(status, status) if action == "renew" else status)
        assert service.status == expected
        # Renewing an expired service: the renewal, then the panel starting it again.
        reactivated = action == "renew" and status == S.EXPIRED
        assert ServiceEvent.objects.count() == events + (2 if reactivated else 1)
    else:
        # Asking for the status the service already has does nothing; anything else is
        # refused (DESIGN.md §2).
        assert level == ("info" if status == after else "error"), message
        assert response.url == f"/admin/services/{service.pk}/"
        service.refresh_from_db()
        assert service.status == status
        assert ServiceEvent.objects.count() == events
        assert ServiceEvent.objects.count() == events


def test_a_refused_action_says_why(client, staff, make_service):
    service = make_service(S.PENDING)

    response = post(client, service, "terminate")

    assert said(response) == [("error", f"Cannot terminate service #{service.pk}: it is pending.")]


def test_a_repeated_request_does_nothing_and_says_so(client, staff, make_service):
    service = make_service(S.ACTIVE)
    post(client, service, "suspend", notify="on")

    response = post(client, service, "suspend", notify="on")

    assert said(response)[-1] == (
        "info",
        f"Nothing to do for service #{service.pk}: it is already suspended.",
    )
    assert service.events.filter(action="suspend").count() == 1


def test_a_module_failure_is_shown_and_recorded_and_the_status_kept(client, staff, make_service):
    service = make_service(S.ACTIVE, fail="suspend")

    response = post(client, service, "suspend", reason="Unpaid")

    assert said(response) == [("error", "The test panel refused to suspend.")]
    service.refresh_from_db()
    assert service.status == S.ACTIVE
    assert service.events.get().error == "The test panel refused to suspend."


def test_retrying_a_failed_delivery(client, staff, make_service):
    service = make_service(S.PENDING, fail="create")
    post(client, service, "deliver")
    service.server.credentials = {"api_key": "k", "fail": ""}
    service.server.save()

    [offer] = [
        o
        for o in client.get(f"/admin/services/{service.pk}/").context["actions"]
        if o.action.key == "deliver"
    ]
    assert offer.title == "Retry delivery"
    post(client, service, "deliver")

    service.refresh_from_db()
    assert (service.status, service.delivery_attempts, service.last_delivery_error) == (
        S.ACTIVE,
        2,
        "",
    )


def test_suspending_without_notifying_sends_nothing(
    client, staff, make_service, django_capture_on_commit_callbacks
):
    quiet, loud = make_service(S.ACTIVE), make_service(S.ACTIVE)

    with django_capture_on_commit_callbacks() as callbacks:
        post(client, quiet, "suspend", reason="Maintenance")
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        post(client, loud, "suspend", reason="Unpaid", notify="on")
    assert len(callbacks) == 1

    quiet.refresh_from_db()
    assert quiet.suspend_reason == "Maintenance"


def test_cancelling_at_the_end_of_the_period_can_be_undone(client, staff, make_service):
    service = make_service(S.ACTIVE)

    response = post(client, service, "cancel", when="end_of_period", reason="Moving")

    service.refresh_from_db()
    assert (service.status, service.cancel_at) == (S.ACTIVE, service.expires_at)
    assert said(response) == [
        (
            "success",
            f"Service #{service.pk} will be cancelled at the end of its paid period "
            f"({date_format(timezone.localtime(service.expires_at), 'DATE_FORMAT')}).",
        )
    ]
    assert "uncancel" in offered(client, service)

    post(client, service, "uncancel", reason="Stays")

    service.refresh_from_db()
    assert service.cancel_at is None
    assert "uncancel" not in offered(client, service)


def test_a_pending_service_can_only_be_cancelled_now(client, staff, make_service):
    service = make_service(S.PENDING)

    [offer] = [
        o
        for o in client.get(f"/admin/services/{service.pk}/").context["actions"]
        if o.action.key == "cancel"
    ]

    assert offer.form.fields["when"].choices == [("now", "Now")]
    response = post(client, service, "cancel", when="end_of_period")
    assert said(response)[0][0] == "error"


def test_days_can_be_added_and_subtracted(client, staff, make_service):
    service = make_service(S.ACTIVE)
    start = service.expires_at

    post(client, service, "shift_expiration", direction="add", days="10")
    post(client, service, "shift_expiration", direction="subtract", days="3", reason="Goodwill")

    service.refresh_from_db()
    assert service.expires_at == start + timedelta(days=7)
    assert service.renewals.count() == 0


def test_renewing_several_cycles_counts_each(client, staff, make_service):
    service = make_service(S.ACTIVE, max_renewals=3)

    post(client, service, "renew", cycles="3")

    service.refresh_from_db()
    assert service.renewal_count == 3
    assert "renew" not in offered(client, service)
    response = post(client, service, "renew", cycles="1")
    assert said(response) == [
        (
            "error",
            f"Cannot renew service #{service.pk}: its maximum number of renewals would be passed "
            "(0 of 3 left).",
        )
    ]


def test_a_renewal_past_the_grace_period_is_neither_offered_nor_run(client, staff, make_service):
    service = make_service(S.EXPIRED, expires_at=timezone.now() - timedelta(days=30))

    assert "renew" not in offered(client, service)
    response = post(client, service, "renew", cycles="1")

    assert said(response)[0] == (
        "error",
        f"Cannot renew service #{service.pk}: it expired more than 7 days ago.",
    )


def test_an_invalid_form_is_refused_with_its_errors(client, staff, make_service):
    service = make_service(S.ACTIVE)

    response = post(client, service, "renew", cycles="0")

    assert said(response) == [("error", "Renew: Ensure this value is greater than or equal to 1.")]
    assert service.renewals.count() == 0


def test_deleting_is_refused_while_a_resource_exists(client, staff, make_service):
    service = make_service(S.PENDING, external_id="vm-9")

    assert "delete" not in offered(client, service)
    response = post(client, service, "delete")

    assert said(response) == [
        (
            "error",
            f"Cannot delete service #{service.pk}: a resource was created for it on the "
            "server: cancel it first.",
        )
    ]


def test_deleting_keeps_the_history(client, staff, make_service):
    service = make_service(S.TERMINATED)

    post(client, service, "delete", reason="Cleanup")

    event = ServiceEvent.objects.get(action="delete")
    assert (event.service, event.reason, event.changes["id"]) == (
        None,
        "Cleanup",
        [service.pk, None],
    )


def test_a_get_is_405(client, staff, make_service):
    assert client.get(action_url(make_service(), "suspend")).status_code == 405


def test_an_unknown_action_is_404(client, staff, make_service):
    assert client.post(action_url(make_service(), "explode")).status_code == 404


def test_deleting_needs_the_delete_permission(client, make_service):
    editor = StaffFactory()
    editor.user_permissions.set(
        Permission.objects.filter(codename__in=["view_service", "change_service"])
    )
    client.force_login(editor)
    service = make_service(S.TERMINATED)

    assert "delete" not in offered(client, service)
    assert post(client, service, "delete").status_code == 403
    assert Service.objects.filter(pk=service.pk).exists()
    assert post(client, make_service(S.ACTIVE), "suspend").status_code == 302
