"""Client-area URLs of the customers app."""

from django.urls import path

from customers.views.auth import CustomerLoginView, CustomerLogoutView

urlpatterns = [
    path("login/", CustomerLoginView.as_view(), name="login"),
    path("logout/", CustomerLogoutView.as_view(), name="logout"),
]
