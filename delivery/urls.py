"""Admin-area URLs of the delivery app: servers and the module call log."""

from django.urls import path

from delivery import views

urlpatterns = [
    path("servers/", views.ServerListView.as_view(), name="server_list"),
    path("servers/add/", views.ServerCreateView.as_view(), name="server_create"),
    path("servers/<int:pk>/edit/", views.ServerUpdateView.as_view(), name="server_edit"),
    path("servers/<int:pk>/test/", views.ServerTestConnectionView.as_view(), name="server_test"),
    path("delivery/calls/", views.ModuleCallListView.as_view(), name="module_call_list"),
]
