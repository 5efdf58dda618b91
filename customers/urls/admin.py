"""Admin-area URLs of the customers app."""

from django.urls import path

from customers.views import admin
from customers.views.auth import StaffLoginView, StaffLogoutView

urlpatterns = [
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", StaffLogoutView.as_view(), name="logout"),
    path("customers/", admin.CustomerListView.as_view(), name="customer_list"),
    path("customers/add/", admin.CustomerCreateView.as_view(), name="customer_create"),
    path("customers/<int:pk>/", admin.CustomerDetailView.as_view(), name="customer_detail"),
    path("customers/<int:pk>/edit/", admin.CustomerUpdateView.as_view(), name="customer_edit"),
    path(
        "customers/<int:pk>/password-reset/",
        admin.CustomerPasswordResetView.as_view(),
        name="customer_password_reset",
    ),
]
