"""Admin-area URLs of the customers app."""

from django.urls import path

from customers.views import activity, admin, emails, staff, two_factor
from customers.views.auth import StaffLoginView, StaffLogoutView

urlpatterns = [
    path("login/", StaffLoginView.as_view(), name="login"),
    path("logout/", StaffLogoutView.as_view(), name="logout"),
    path("login/verify/", two_factor.TwoFactorVerifyView.as_view(), name="login_verify"),
    path("account/two-factor/", two_factor.TwoFactorEnrolView.as_view(), name="two_factor"),
    path("staff/", staff.StaffListView.as_view(), name="staff_list"),
    path(
        "staff/<int:pk>/reset-two-factor/",
        staff.StaffTwoFactorResetView.as_view(),
        name="staff_two_factor_reset",
    ),
    path("activity/", activity.StaffActivityListView.as_view(), name="activity_list"),
    path("customers/", admin.CustomerListView.as_view(), name="customer_list"),
    path("customers/add/", admin.CustomerCreateView.as_view(), name="customer_create"),
    path("customers/<int:pk>/", admin.CustomerDetailView.as_view(), name="customer_detail"),
    path("customers/<int:pk>/edit/", admin.CustomerUpdateView.as_view(), name="customer_edit"),
    path(
        "customers/<int:pk>/emails/",
        emails.CustomerEmailLogView.as_view(),
        name="customer_emails",
    ),
    path(
        "customers/<int:pk>/vat-check/",
        admin.CustomerVatCheckView.as_view(),
        name="customer_vat_check",
    ),
    path(
        "customers/<int:pk>/password-reset/",
        admin.CustomerPasswordResetView.as_view(),
        name="customer_password_reset",
    ),
]
