"""Admin-area URLs of the services app."""

urlpatterns: list = []
