"""URLs: two audiences, two trees. ``/admin/`` is for staff, ``/client/`` for customers."""

from django.urls import include, path
from django.views.generic import RedirectView

from customers.language import set_language

admin_patterns = [
    path("", include("dashboard.urls")),
    path("", include("customers.urls.admin")),
    path("", include("services.urls.admin")),
    path("", include("products.urls")),
    path("", include("delivery.urls")),
    path("", include("billing.urls.admin")),
    path("", include("automation.urls")),
]
client_patterns = [
    path("", include("customers.urls.client")),
    path("", include("services.urls.client")),
    path("", include("billing.urls.client")),
]

urlpatterns = [
    path("admin/", include((admin_patterns, "admin"))),
    path("client/", include((client_patterns, "client"))),
    path("language/", set_language, name="set_language"),
    path("", RedirectView.as_view(pattern_name="client:home", permanent=False)),
]
