"""Client-area URLs of the services app."""

from django.urls import path

from services.views import client

urlpatterns = [
    path("", client.HomeView.as_view(), name="home"),
]
