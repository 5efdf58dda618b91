"""Which language a page is in, and how a user changes it.

Django's ``LocaleMiddleware`` picks the language of an anonymous visitor from the
language cookie or the browser. Once someone signs in, their account decides, so that
the choice follows them to every browser and the e-mails and invoices they receive
agree with the pages they read:

- the client area is in the customer's language (``Customer.language``, also that of
  their e-mails and invoice PDFs);
- the administration is in the staff member's (``User.language``), or their browser's
  while they have not chosen one.

``set_language`` saves the choice on the account (the customer's, the staff member's, or
both for a staff member who is also a customer) and in the cookie, which keeps it for
the sign-in pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from .models import Customer, User

#: Where the administration's pages live (clientxcms/urls.py); every other page is the
#: client area's.
ADMIN_PREFIX = "/admin/"


def preferred_language(request: HttpRequest) -> str:
    """The language the signed-in user chose for this area, or "" to keep the browser's."""
    user = request.user
    if not user.is_authenticated or not isinstance(user, User):
        return ""
    if request.path_info.startswith(ADMIN_PREFIX):
        return user.language if user.is_staff else ""
    try:
        # Cached on the user: the client area's views read the same object afterwards.
        return user.customer.language
    except Customer.DoesNotExist:
        return user.language


class PreferredLanguageMiddleware:
    """Activates the signed-in user's language for the rest of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = preferred_language(request)
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Switch to ``language``, remember it on the account and in the cookie, and go back.

    ``next`` is checked by Django's own view (a page of this site only).
    """
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        return HttpResponseBadRequest("Unknown language.")
    user = request.user
    if user.is_authenticated and isinstance(user, User):
        if user.is_staff:
            User.objects.filter(pk=user.pk).update(language=language)
        Customer.objects.filter(user=user).update(language=language)
    return django_set_language(request)
