"""Admin-area URLs of the automation."""

from django.urls import path

from automation import views

urlpatterns = [
    path("automation/", views.AutomationView.as_view(), name="automation"),
    path("automation/settings/", views.SettingsView.as_view(), name="automation_settings"),
    path("automation/tasks/<str:key>/", views.TaskRunsView.as_view(), name="automation_task"),
    path("automation/tasks/<str:key>/run/", views.RunNowView.as_view(), name="automation_run_now"),
    path("automation/runs/<int:pk>/", views.RunDetailView.as_view(), name="automation_run"),
]
