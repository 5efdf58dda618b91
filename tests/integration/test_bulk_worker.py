"""A bulk operation confirmed in the list runs to completion in a real Celery worker."""

from __future__ import annotations

import pytest
from django.urls import reverse

from services.choices import BulkItemState, BulkStatus, ServiceStatus
from services.models import BulkOperation, Service
from tests.celery_worker import wait_until

S = ServiceStatus


@pytest.mark.redis
@pytest.mark.postgres
def test_a_worker_runs_a_confirmed_bulk_suspend_to_completion(
    celery_worker, client, admin_user, make_service
):
    services = [make_service(S.ACTIVE) for _ in range(5)]
    broken = make_service(S.ACTIVE, fail="suspend")
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:service_bulk_confirm"),
        {
            "action": "suspend",
            "ids": [s.pk for s in [*services, broken]],
            "reason": "unpaid",
            "confirm": "1",
        },
    )

    operation = BulkOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:bulk_detail", args=[operation.pk])

    def finished() -> bool:
        operation.refresh_from_db()
        return operation.status == BulkStatus.DONE

    wait_until(finished, message="the worker did not finish the bulk operation")
    states = dict(operation.items.values_list("service_ref", "state"))
    assert states == {
        **{s.pk: BulkItemState.DONE for s in services},
        broken.pk: BulkItemState.FAILED,
    }
    assert Service.objects.filter(status=S.SUSPENDED).count() == 5
