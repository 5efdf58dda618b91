"""The area mixins of ``clientxcms.access``, on small views of their own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.views import View

from clientxcms.access import CustomerRequiredMixin, StaffRequiredMixin


class ChangeServicesView(StaffRequiredMixin, View):
    permission_required = "services.change_service"

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse("changed")


class WhoAmIView(CustomerRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        assert request.customer == self.customer  # type: ignore[attr-defined]  # set by the mixin
        return HttpResponse(self.customer.full_name)


def get(rf, view: type[View], user) -> HttpResponseBase:
    request = rf.get("/somewhere/?x=1")
    request.user = user
    return view.as_view()(request)


def test_staff_with_the_permission_are_let_in(rf, admin_user):
    assert get(rf, ChangeServicesView, admin_user).content == b"changed"


def test_staff_without_the_permission_get_403(rf, support_user):
    with pytest.raises(PermissionDenied):
        get(rf, ChangeServicesView, support_user)


def test_anonymous_is_sent_to_the_staff_login(rf, db):
    response = get(rf, ChangeServicesView, AnonymousUser())

    assert response.url == "/admin/login/?next=/somewhere/%3Fx%3D1"


def test_the_customer_is_handed_to_the_view(rf, customer):
    assert get(rf, WhoAmIView, customer.user).content == b"Bob Owner"


def test_staff_get_403_from_a_customer_view(rf, admin_user):
    with pytest.raises(PermissionDenied):
        get(rf, WhoAmIView, admin_user)


def test_the_403_page_renders(client, customer):
    client.force_login(customer.user)

    response = client.get("/admin/")

    assert response.status_code == 403
    assert "Access refused" in response.text


def test_the_404_page_renders(client, db):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert "Page not found" in response.text
