"""Client-area URLs of the customers app."""

from django.contrib.auth.views import PasswordResetCompleteView, PasswordResetConfirmView
from django.urls import path, reverse_lazy

from customers.forms import CustomerSetPasswordForm
from customers.views.auth import CustomerLoginView, CustomerLogoutView

urlpatterns = [
    path("login/", CustomerLoginView.as_view(), name="login"),
    path("logout/", CustomerLogoutView.as_view(), name="logout"),
    # The link of the password-reset e-mail that staff send (customers.forms).
    path(
        "reset/<uidb64>/<token>/",
        PasswordResetConfirmView.as_view(
            form_class=CustomerSetPasswordForm,
            template_name="customers/client/password_reset_confirm.html",
            success_url=reverse_lazy("client:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        PasswordResetCompleteView.as_view(
            template_name="customers/client/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
