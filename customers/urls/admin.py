"""Admin-area URLs of the customers app."""

from django.urls import path

from customers.views.auth import StaffLoginView, StaffLogoutView

urlpatterns = [
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", StaffLogoutView.as_view(), name="logout"),
]
