"""Admin-area URLs of the services app."""

from django.urls import path

from services.views import admin

urlpatterns = [
    path("", admin.HomeView.as_view(), name="home"),
]
