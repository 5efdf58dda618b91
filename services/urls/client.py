"""Client-area URLs of the services app."""

from django.urls import path

from services.views import client, tab_actions

urlpatterns = [
    path("", client.HomeView.as_view(), name="home"),
    path("services/", client.ServiceListView.as_view(), name="service_list"),
    path("services/<int:pk>/", client.ServiceDetailView.as_view(), name="service_detail"),
    path(
        "services/<int:pk>/tabs/<slug:key>/",
        client.ServiceTabView.as_view(),
        name="service_tab",
    ),
    path(
        "services/<int:pk>/tabs/<slug:key>/actions/<slug:action>/",
        tab_actions.ClientTabActionView.as_view(),
        name="service_tab_action",
    ),
    path("services/<int:pk>/cancel/", client.ServiceCancelView.as_view(), name="service_cancel"),
    path(
        "services/<int:pk>/uncancel/",
        client.ServiceUncancelView.as_view(),
        name="service_uncancel",
    ),
]
