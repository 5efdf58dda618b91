"""Client-area URLs of the customers app."""

from django.contrib.auth.views import PasswordResetCompleteView, PasswordResetConfirmView
from django.urls import path, reverse_lazy

from customers.forms import CustomerSetPasswordForm
from customers.views import account, signup
from customers.views.auth import CustomerLoginView, CustomerLogoutView

urlpatterns = [
    path("login/", CustomerLoginView.as_view(), name="login"),
    path("logout/", CustomerLogoutView.as_view(), name="logout"),
    path("signup/", signup.SignUpView.as_view(), name="signup"),
    path("signup/sent/", signup.SignUpSentView.as_view(), name="signup_sent"),
    path("signup/resend/", signup.ResendConfirmationView.as_view(), name="signup_resend"),
    path(
        "signup/confirm/<uidb64>/<confirm_token>/",
        signup.SignUpConfirmView.as_view(),
        name="signup_confirm",
    ),
    path("password-reset/", signup.ClientPasswordResetView.as_view(), name="password_reset"),
    path(
        "password-reset/sent/",
        signup.ClientPasswordResetSentView.as_view(),
        name="password_reset_sent",
    ),
    path("account/", account.AccountView.as_view(), name="account"),
    path("account/password/", account.AccountPasswordView.as_view(), name="account_password"),
    path("account/email/", account.EmailChangeView.as_view(), name="account_email"),
    path(
        "account/email/confirm/<str:email_token>/",
        account.EmailChangeConfirmView.as_view(),
        name="email_change_confirm",
    ),
    # The link of the password-reset e-mail, sent by staff (customers.forms) or asked for
    # from client:password_reset.
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
