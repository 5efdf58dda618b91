"""Admin-area URLs of the dashboard: the staff home, ``admin:home``."""

from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
]
