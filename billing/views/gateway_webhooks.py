"""``/client/payments/<gateway>/webhook/``: where a payment gateway notifies us.

Not a page of either audience: the caller is the gateway's server, which has no session
and no CSRF token, so the view is CSRF-exempt and answers POST only. Proving where a
notification comes from is the gateway's job (Stripe's signature), in ``handle_webhook``;
a gateway that takes no notifications answers 404.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from ..gateways.registry import UnknownGateway, get_gateway


@method_decorator(csrf_exempt, name="dispatch")
class GatewayWebhookView(View):
    http_method_names = ["post"]

    def post(self, request: HttpRequest, gateway: str) -> HttpResponse:
        try:
            chosen = get_gateway(gateway)
        except UnknownGateway:
            raise Http404("No such payment gateway.") from None
        return chosen.handle_webhook(request)
