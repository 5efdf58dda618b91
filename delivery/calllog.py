"""The module call log: every HTTP call a delivery module makes, for staff to read back.

``delivery.http.PanelClient`` records each call here as a ``ModuleCall`` row. Which
service and which operation the call is for is not the client's to know: the caller
says so around the module call, and every call made inside is tagged with it::

    with calling(service_id=service.pk, operation="suspend"):
        module.suspend(service)

The context lives in a ``ContextVar``, so it follows the code through the module
without being passed along, and it is separate per thread and per task. (A thread
started inside does not inherit it: code that spreads calls over threads sets it again
in each, or runs them with ``contextvars.copy_context()``.)

What is stored is redacted before it reaches the database: each literal secret the
client was given (and its JSON-escaped and URL-encoded forms) becomes ``[REDACTED]``,
then ``clientxcms.redaction.redact`` hides whatever looks like a secret (``"password": ...``,
``Bearer ...``, ``api_key=...``); JSON values under secret-looking keys are blanked
before that, whatever their shape. Request headers, where API keys travel, are never
stored. Bodies are pretty-printed when they are JSON and truncated.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, quote_plus

from django.db import transaction
from django.db.models import QuerySet

from clientxcms.redaction import REDACTED, redact

from . import automation
from .models import ModuleCall, Server

logger = logging.getLogger(__name__)

#: The most characters of a body kept; the rest is cut with a note saying how much.
BODY_LIMIT = 20_000
#: Bodies longer than this are cut before redaction (which reads the whole text): far
#: beyond BODY_LIMIT, so nothing kept was cut short of its redaction.
_REDACTION_WINDOW = 1_000_000
#: Rows deleted per statement when pruning, so that no statement holds long locks.
PRUNE_BATCH = 5_000
#: JSON keys whose values are hidden whatever they hold (strings, numbers, objects).
_SECRET_KEY = re.compile(r"secret|pass|token|key|auth|credential|signature", re.IGNORECASE)
_OPERATION_MAX = ModuleCall._meta.get_field("operation").max_length or 200


@dataclass(frozen=True)
class CallContext:
    """What the calls being made are for: a service (its id) and an operation.

    ``recorded`` collects the ids of the rows written inside the outermost block, so
    that calls made before their service existed (an import asks the panel first) can
    be linked to it once it is saved (``link_to_service``).
    """

    service_id: int | None = None
    operation: str = ""
    recorded: list[int] = field(default_factory=list, compare=False)


_NOWHERE = CallContext()
_current: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "delivery_call_context", default=None
)


@contextmanager
def calling(service_id: int | None = None, operation: str = "") -> Iterator[CallContext]:
    """Tag the module calls made inside with ``service_id`` and ``operation``.

    Nested blocks keep the innermost values; a value an inner block leaves out (None or
    "") is the outer block's, so a module may name a step without losing the service.
    """
    outer = current()
    context = CallContext(
        service_id=service_id if service_id is not None else outer.service_id,
        operation=operation or outer.operation,
        recorded=outer.recorded if outer is not _NOWHERE else [],
    )
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def current() -> CallContext:
    """The context set by the innermost ``calling`` block (empty outside any)."""
    return _current.get() or _NOWHERE


# Redaction -------------------------------------------------------------------------------


def _secret_forms(secrets: Iterable[str]) -> list[str]:
    """Each secret as it may appear: as given, JSON-escaped, and URL-encoded; longest first
    so that a secret containing another is replaced whole."""
    forms: set[str] = set()
    for secret in secrets:
        if not isinstance(secret, str) or not secret:
            continue
        forms.update({secret, json.dumps(secret)[1:-1], quote(secret, safe=""), quote_plus(secret)})
    return sorted(forms, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with each literal secret, then each secret-looking value, redacted."""
    for secret in _secret_forms(secrets):
        text = text.replace(secret, REDACTED)
    return redact(text)


def _blank_secret_values(value: Any) -> Any:
    """A JSON document with the values of secret-looking keys replaced, at any depth."""
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEY.search(key) and item not in (None, "")
            else _blank_secret_values(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_blank_secret_values(item) for item in value]
    return value


def _as_text(body: str | bytes | None) -> str:
    if body is None:
        return ""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="replace")
    return body


def format_body(body: str | bytes | None, secrets: Iterable[str] = ()) -> str:
    """A body as stored: pretty-printed when it is JSON, redacted, then truncated."""
    text = _as_text(body)[:_REDACTION_WINDOW]
    if text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError:
            pass
        else:
            text = json.dumps(_blank_secret_values(document), indent=2, ensure_ascii=False)
    text = scrub(text, secrets)
    if len(text) > BODY_LIMIT:
        text = f"{text[:BODY_LIMIT]}\n… [cut: {len(text):,} characters in all]"
    return text


# Recording -------------------------------------------------------------------------------


def record(
    *,
    server: Server | None,
    module: str,
    method: str,
    url: str,
    request_body: str | bytes | None,
    response_body: str | bytes | None,
    status: int | None,
    duration_ms: int,
    error: str = "",
    retryable: bool = False,
    operation: str = "",
    secrets: Iterable[str] = (),
) -> ModuleCall | None:
    """Store one call, redacted, tagged with the current ``calling`` context.

    ``operation`` names the step within the context's operation ("suspend: find
    server"). Never raises: a call log that cannot be written is logged, and the call
    it describes goes on. Within a transaction the caller holds, the row is written in a
    savepoint so that a failure cannot break that transaction.
    """
    secrets = list(secrets)
    context = current()
    label = ": ".join(part for part in (context.operation, operation) if part)
    try:
        call = ModuleCall(
            server=server if server is not None and server.pk is not None else None,
            service_ref=context.service_id,
            module=module[:50],
            operation=label[:_OPERATION_MAX],
            method=method.upper()[:10],
            url=scrub(url, secrets),
            request_body=format_body(request_body, secrets),
            response_body=format_body(response_body, secrets),
            status=status,
            duration_ms=max(0, int(duration_ms)),
            error=scrub(error, secrets),
            retryable=retryable,
        )
        if transaction.get_connection().in_atomic_block:
            with transaction.atomic():
                call.save(force_insert=True)
        else:
            call.save(force_insert=True)  # one INSERT: no BEGIN and COMMIT around it
    except Exception:  # noqa: BLE001 - the log must never break the call it describes
        logger.exception("Could not record a %s call to a %s panel", method, module)
        return None
    if context is not _NOWHERE:
        context.recorded.append(call.pk)
    return call


def link_to_service(context: CallContext, service_id: int) -> None:
    """Tag the calls recorded in ``context`` with the service they turned out to be for."""
    if context.recorded:
        ModuleCall.objects.filter(pk__in=context.recorded).update(service_ref=service_id)


# Reading and pruning ---------------------------------------------------------------------


def calls_for_service(service_id: int, limit: int = 20) -> list[ModuleCall]:
    """The latest ``limit`` calls made for a service, newest first, in one query."""
    return list(
        ModuleCall.objects.filter(service_ref=service_id)
        .select_related("server")
        .order_by("-created_at", "-id")[:limit]
    )


def expired_calls(now: datetime) -> QuerySet[ModuleCall]:
    """The calls older, at ``now``, than the days the log is kept (``delivery.automation``);
    the cut-off uses the index on ``created_at``."""
    cutoff = now - timedelta(days=automation.call_log_days())
    return ModuleCall.objects.filter(created_at__lt=cutoff)


def prune(now: datetime) -> int:
    """Delete the calls expired at ``now``; how many went.

    In batches of ``PRUNE_BATCH`` by primary key, each its own short statement, so that
    a first prune of a large log neither locks the table for long nor builds one huge
    transaction.
    """
    expired = expired_calls(now)
    deleted = 0
    while True:
        batch = list(expired.order_by().values_list("pk", flat=True)[:PRUNE_BATCH])
        if not batch:
            return deleted
        count, _ = ModuleCall.objects.filter(pk__in=batch).delete()
        deleted += count
