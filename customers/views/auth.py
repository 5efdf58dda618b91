"""Signing in to and out of each area.

Each area has its own login page and refuses the other area's accounts (DESIGN.md §3):
a customer never reaches the administration area, and staff never browse the client
area as if they were a customer.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth.views import LoginView, LogoutView
from django.urls import reverse

from customers.forms import CustomerAuthenticationForm, StaffAuthenticationForm


class StaffLoginView(LoginView):
    """``/admin/login/``: then the staff home, or the page asked for by a safe ``next``.

    A staff member with two-factor goes through ``/admin/login/verify/`` first, carrying
    that page along. Failed attempts are counted by django-axes (customers.throttling).
    """

    form_class = StaffAuthenticationForm
    template_name = "customers/admin/login.html"
    next_page = "admin:home"

    def get_success_url(self) -> str:
        url = super().get_success_url()
        if getattr(self.request.user, "two_factor_enabled", False):
            return f"{reverse('admin:login_verify')}?{urlencode({'next': url})}"
        return url


class CustomerLoginView(LoginView):
    """``/client/login/``: then the customer home, or the page asked for by a safe ``next``."""

    form_class = CustomerAuthenticationForm
    template_name = "customers/client/login.html"
    next_page = "client:home"


class StaffLogoutView(LogoutView):
    """Signs out (POST only, as Django's view) and goes back to the staff login."""

    next_page = "admin:login"


class CustomerLogoutView(LogoutView):
    """Signs out (POST only, as Django's view) and goes back to the client login."""

    next_page = "client:login"
