"""One rule book, many readers: for every status and every awkward case, the lifecycle's
outcome, the buttons the details page and the client area offer, the cancel form's
choices and the bulk plan agree on every action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import RequestFactory
from django.utils import timezone

from delivery.modules.base import ModuleError
from products.choices import BillingCycle
from services import bulk, lifecycle
from services.choices import BulkAction, CancelWhen, EventSource, ServiceStatus
from services.forms.actions import CancelForm
from services.lifecycle import LifecycleError
from services.models import Service
from services.views.admin_actions import offered_actions
from services.views.client import ServiceDetailView

S = ServiceStatus
DAY = timedelta(days=1)


def _variants() -> dict[str, dict[str, Any]]:
    now = timezone.now()
    return {
        "plain": {},
        "past the grace period": {"expires_at": now - 30 * DAY},
        "within the grace period": {"expires_at": now - 2 * DAY},
        "at the maximum of renewals": {"max_renewals": 1, "renewal_count": 1},
        "one-time": {"billing_cycle": BillingCycle.ONE_TIME, "expires_at": None},
        "with a resource on the server": {"external_id": "vm-77"},
        "cancellation scheduled by the customer": {
            "cancel_at": "expires_at",
            "cancel_source": "client",
        },
        "cancellation scheduled by staff": {"cancel_at": "expires_at", "cancel_source": "admin"},
        "no expiration date": {"expires_at": None},
    }


#: The details page's actions, with what each posts; bulk's twin and its settings.
PAGE_ACTIONS: dict[str, tuple[dict[str, Any], tuple[str, dict[str, Any]] | None]] = {
    "deliver": ({}, None),
    "suspend": ({"notify": False}, (BulkAction.SUSPEND, {"notify": False})),
    "unsuspend": ({"notify": False}, (BulkAction.UNSUSPEND, {"notify": False})),
    "renew": ({"cycles": 1, "notify": False}, (BulkAction.RENEW, {"cycles": 1})),
    "shift_expiration": ({"days": 3}, (BulkAction.ADD_DAYS, {"days": 3})),
    "cancel": ({"when": CancelWhen.NOW, "notify": False}, (BulkAction.CANCEL, {"when": "now"})),
    "schedule_cancel": ({"notify": False}, (BulkAction.CANCEL, {"when": "end_of_period"})),
    "uncancel": ({}, None),
    "terminate": ({"notify": False}, (BulkAction.TERMINATE, {})),
    "delete": ({}, (BulkAction.DELETE, {})),
}


def lifecycle_changes(service: Service, action: str, source: str, params: dict[str, Any]) -> bool:
    """Whether the lifecycle changes the service; everything is rolled back afterwards."""
    try:
        with transaction.atomic():
            outcome = lifecycle.perform(
                action, service.pk, actor=None, source=source, params=params
            )
            transaction.set_rollback(True)
    except LifecycleError:
        return False
    except ModuleError as exc:  # the fake module never fails here: a failure is a bug
        raise AssertionError(exc.message) from exc
    return outcome.changed


def staff_offers(service: Service, staff) -> set[str]:
    offers: set[str] = {offer.action.key for offer in offered_actions(service, staff)}
    if "cancel" in offers:
        when = CancelForm(service=service).fields["when"]
        if CancelWhen.END_OF_PERIOD in dict(when.choices):  # type: ignore[attr-defined]
            offers.add("schedule_cancel")
    return offers


def customer_offers(service: Service, customer) -> set[str]:
    view = ServiceDetailView()
    view.request = RequestFactory().get("/")
    view.request.user = customer.user
    view.object = service
    view.kwargs = {"pk": service.pk}
    context = view.get_context_data()
    offers = {"uncancel"} if context["can_uncancel"] else set()
    if context["cancel_form"] is not None:
        for when, _label in context["cancel_form"].fields["when"].choices:
            offers.add("cancel" if when == CancelWhen.NOW else "schedule_cancel")
    return offers


def bulk_changes(service: Service, twin: tuple[str, dict[str, Any]]) -> bool:
    action, params = twin
    return bulk.plan(Service.objects.filter(pk=service.pk), action, params).changing == 1


@pytest.mark.parametrize("variant", list(_variants()))
@pytest.mark.parametrize("status", list(S))
def test_the_lifecycle_the_pages_and_bulk_agree_on_every_action(
    make_service, admin_user, customer, status, variant
):
    fields = dict(_variants()[variant])
    if status == S.PENDING and "external_id" not in fields:
        fields["external_id"] = ""
    scheduled = fields.pop("cancel_at", None)
    service = make_service(status, **fields)
    if scheduled:
        Service.objects.filter(pk=service.pk).update(cancel_at=service.expires_at)
        service.refresh_from_db()

    staff = staff_offers(service, admin_user)
    client = customer_offers(service, customer)
    disagreements = []
    for action, (params, twin) in PAGE_ACTIONS.items():
        by_staff = lifecycle_changes(service, action, EventSource.ADMIN, params)
        if (action in staff) != by_staff:
            disagreements.append(f"{action}: details page offers {action in staff}")
        if twin is not None and bulk_changes(service, twin) != by_staff:
            disagreements.append(f"{action}: bulk plan changes {not by_staff}")
        if action in ("cancel", "schedule_cancel", "uncancel"):
            by_customer = lifecycle_changes(service, action, EventSource.CLIENT, params)
            if (action in client) != by_customer:
                disagreements.append(f"{action}: client area offers {action in client}")

    assert disagreements == []


def test_renew_is_offered_nowhere_on_a_service_expired_past_the_grace_period(
    make_service, admin_user, customer
):
    service = make_service(S.EXPIRED, expires_at=timezone.now() - 30 * DAY)

    assert "renew" not in staff_offers(service, admin_user)
    assert "renew" not in customer_offers(service, customer)
    assert bulk.plan(Service.objects.filter(pk=service.pk), BulkAction.RENEW, {}).skipped == [
        ("it expired more than 7 days ago", 1)
    ]
    with pytest.raises(LifecycleError, match="it expired more than 7 days ago"):
        lifecycle.renew(service, actor=admin_user, source=EventSource.ADMIN)
