"""Admin-area URLs of the delivery app: servers, server groups and the module call log."""

from django.urls import path

from delivery import views

urlpatterns = [
    path("servers/", views.ServerListView.as_view(), name="server_list"),
    path("servers/add/", views.ServerCreateView.as_view(), name="server_create"),
    path("servers/<int:pk>/edit/", views.ServerUpdateView.as_view(), name="server_edit"),
    path("servers/<int:pk>/test/", views.ServerTestConnectionView.as_view(), name="server_test"),
    path("servers/groups/add/", views.ServerGroupCreateView.as_view(), name="server_group_create"),
    path(
        "servers/groups/<int:pk>/edit/",
        views.ServerGroupUpdateView.as_view(),
        name="server_group_edit",
    ),
    path("delivery/calls/", views.ModuleCallListView.as_view(), name="module_call_list"),
]
