"""An axes backend for the test settings that lets ``client.login()`` through.

Django's test client calls ``authenticate()`` without a request, which axes refuses
outright (in production every sign-in page passes one, and a call without would be a
bug worth an exception). Without a request there is no address to count failures for,
so this backend steps aside; every request-carrying sign-in is throttled as in production.
"""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest


class RequestOptionalAxesBackend(AxesStandaloneBackend):
    def authenticate(self, request: HttpRequest | None, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
