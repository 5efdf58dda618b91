"""Signing in to and out of each area.

Each area has its own login page and refuses the other area's accounts (DESIGN.md §3):
a customer never reaches the administration area, and staff never browse the client
area as if they were a customer.
"""

from __future__ import annotations

from django.contrib.auth.views import LoginView, LogoutView

from customers.forms import CustomerAuthenticationForm, StaffAuthenticationForm


class StaffLoginView(LoginView):
    """``/admin/login/``: then the staff home, or the page asked for by a safe ``next``."""

    form_class = StaffAuthenticationForm
    template_name = "customers/admin/login.html"
    next_page = "admin:home"


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
