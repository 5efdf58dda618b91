"""The European Commission's VIES service over its REST API: is this EU VAT number registered?

``POST {VIES_URL}/check-vat-number`` with ``{"countryCode": "DE", "vatNumber": "136695976"}``
answers ``{"countryCode", "vatNumber", "requestDate", "valid": bool, "name", "address", ...}``
(``"---"`` where the member state does not share the name or address). A number that is not
registered is HTTP 200 with ``"valid": false``. Not knowing is answered several ways, all of
which must be read as "unavailable", never as "invalid" (a live company would otherwise be
taken for unregistered because a national system was down for ten minutes): HTTP 500/503,
HTTP 200 with ``{"actionSucceed": false, "errorWrappers": [{"error": "MS_UNAVAILABLE"}]}``
(also ``MS_MAX_CONCURRENT_REQ``, ``GLOBAL_MAX_CONCURRENT_REQ``, ``SERVICE_UNAVAILABLE``,
``TIMEOUT``...), or a ``userError`` other than ``VALID``/``INVALID``. The one error that is
about the number itself is ``INVALID_INPUT``: VIES refuses it as no number of that country.

One call, no retry here: the caller (``customers.vat.check_with_vies``) stores what it found
and staff can check again from the customer's page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from .choices import VatStatus

logger = logging.getLogger(__name__)

#: Seconds to connect, then to wait for each read of the answer: VIES asks the member
#: state's own system, which can take several seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 20.0
#: What VIES says when it holds no name or address for a valid number.
NOT_SHARED = {"---", "-", ""}
#: The error code that is about the number itself; every other one means "try later".
INVALID_INPUT = "INVALID_INPUT"


@dataclass(frozen=True)
class ViesAnswer:
    """What one call found: a status among the ``vies_*`` ones, and why (an error code or
    an HTTP status, for the message staff read), with the name and address of a valid one."""

    status: VatStatus
    reason: str = ""
    name: str = ""
    address: str = ""


def _unavailable(reason: str) -> ViesAnswer:
    return ViesAnswer(VatStatus.VIES_UNAVAILABLE, reason)


def _shared(value: Any) -> str:
    text = str(value or "").strip()
    return "" if text in NOT_SHARED else text


def read_answer(status_code: int, body: Any) -> ViesAnswer:
    """What an answer of ``check-vat-number`` means (module docstring)."""
    if isinstance(body, dict):
        wrappers = body.get("errorWrappers") or []
        codes = [str(w.get("error", "")) for w in wrappers if isinstance(w, dict)]
        user_error = str(body.get("userError") or "")
        if user_error and user_error not in ("VALID", "INVALID"):
            codes.append(user_error)
        codes = [code for code in codes if code]
        if codes:
            if codes[0] == INVALID_INPUT:
                return ViesAnswer(VatStatus.VIES_INVALID, INVALID_INPUT)
            return _unavailable(codes[0])
    if status_code != 200:
        return _unavailable(f"HTTP {status_code}")
    valid = body.get("valid", body.get("isValid")) if isinstance(body, dict) else None
    if not isinstance(valid, bool):
        return _unavailable("an answer without a verdict")
    if not valid:
        return ViesAnswer(VatStatus.VIES_INVALID, "not registered")
    return ViesAnswer(
        VatStatus.VIES_VALID,
        "registered",
        name=_shared(body.get("name"))[:200],
        address=_shared(body.get("address")),
    )


def check(country_code: str, number: str) -> ViesAnswer:
    """Ask VIES about ``number`` (without its prefix) of ``country_code`` (``EL`` for
    Greece, ``XI`` for Northern Ireland, as VIES spells them)."""
    url = f"{settings.VIES_URL.rstrip('/')}/check-vat-number"
    started = time.monotonic()
    try:
        response = httpx.post(
            url,
            json={"countryCode": country_code, "vatNumber": number},
            headers={"Accept": "application/json"},
            timeout=httpx.Timeout(READ_TIMEOUT, connect=CONNECT_TIMEOUT),
        )
    except httpx.TimeoutException:
        answer = _unavailable("no answer in time")
    except httpx.HTTPError as error:
        answer = _unavailable(f"could not reach VIES ({type(error).__name__})")
    else:
        try:
            body = response.json()
        except ValueError:
            body = None
        answer = read_answer(response.status_code, body)
    logger.info(
        "VIES check of %s%s: %s (%s) in %.0f ms",
        country_code,
        number,
        answer.status,
        answer.reason,
        (time.monotonic() - started) * 1000,
    )
    return answer
