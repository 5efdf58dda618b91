"""The project's URLs plus Django's admin over ``Service``, for ``bench/list_views.py`` only.

The anchor of the list's figures (issue 15): the same rows shown by Django's admin
changelist, set up as a staff member would set it up for services (the columns of the
project's list, filters on status, recurrence and product, a search over the customer's
e-mail and names, the service's name and the product's name, the related rows joined in
one query). Its site has its own instance name, so that the project's ``admin:`` URL
names keep resolving to the project's pages.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path

from clientxcms.urls import urlpatterns as project_urlpatterns
from services.models import Service

#: Where the changelist is: ``/django-admin/services/service/``.
PREFIX = "django-admin/"

site = admin.AdminSite(name="django_admin")


class ServiceAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "name",
        "customer",
        "customer_email",
        "product",
        "server",
        "status",
        "price",
        "billing_cycle",
        "expires_at",
    )
    list_filter = ("status", "billing_cycle", "product")
    search_fields = (
        "customer__user__email",
        "customer__first_name",
        "customer__last_name",
        "customer__company",
        "name",
        "product__name",
    )
    list_select_related = ("customer__user", "product", "server")
    # The project's list shows 25 rows a page: the same rows on both sides.
    list_per_page = 25

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """The changelist rendered by Django's admin templates (``bench.settings``)."""
        response = super().changelist_view(request, extra_context)
        if isinstance(response, TemplateResponse):
            response.using = "django_admin"
        return response

    @admin.display(description="e-mail", ordering="customer__user__email")
    def customer_email(self, service: Service) -> str:
        return service.customer.user.email


site.register(Service, ServiceAdmin)

urlpatterns = [*project_urlpatterns, path(PREFIX, site.urls)]
