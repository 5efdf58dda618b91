"""The staff activity log: who changed what, and every sign-in attempt on a staff account.

Staff views call ``record(...)`` after a change is saved; the sign-in signals call it
too (``customers.signals``). This module lives in the accounts app, which imports no
other app: a target is any model instance, named by its content type, id and text.

Secrets never reach the log. A field listed in ``secret`` is recorded as changed, with
the names of the keys that changed when it is a mapping (server credentials), and
never with a value: not the old one, not the new one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from axes.helpers import get_client_ip_address
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.http import HttpRequest

from .models import StaffActivity, User

#: Actions recorded by this app itself; other apps pass their own words ("server.change").
SIGN_IN = "sign-in"
SIGN_IN_FAILED = "sign-in failed"
LOCKED_OUT = "locked out"
TWO_FACTOR_ENROLLED = "two-factor enrolled"
TWO_FACTOR_FAILED = "two-factor code refused"
TWO_FACTOR_RESET = "two-factor reset"

Changes = dict[str, dict[str, Any]]


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as the sign-in throttling sees it (behind the proxy too)."""
    if request is None:
        return None
    address = getattr(request, "axes_ip_address", None)
    if address is None:
        address = get_client_ip_address(request)
    return address or None


def plain(value: Any) -> Any:
    """A value as JSON can hold it and a person can read it: model rows become their text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | models.QuerySet):
        return [plain(v) for v in value]
    return str(value)


def snapshot(instance: models.Model, fields: Collection[str]) -> dict[str, Any]:
    """The values of ``fields`` on ``instance`` now, to compare with after a change.

    Mappings are copied, so that a form assigning a new dict (or changing this one)
    cannot change the picture taken before.
    """
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(instance, name)
        values[name] = dict(value) if isinstance(value, Mapping) else value
    return values


def diff(
    before: Mapping[str, Any], after: Mapping[str, Any], *, secret: Collection[str] = ()
) -> Changes:
    """What changed between two snapshots: old and new values, or only *that* a secret did."""
    changes: Changes = {}
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if name in secret:
            entry: dict[str, Any] = {"changed": True}
            if isinstance(old, Mapping | None) and isinstance(new, Mapping | None):
                old_map, new_map = old or {}, new or {}
                entry["names"] = sorted(
                    str(key) for key in {*old_map, *new_map} if old_map.get(key) != new_map.get(key)
                )
            changes[name] = entry
        else:
            changes[name] = {"old": plain(old), "new": plain(new)}
    return changes


def record(
    *,
    action: str,
    actor: User | None = None,
    target: models.Model | None = None,
    changes: Changes | None = None,
    request: HttpRequest | None = None,
    actor_label: str = "",
) -> StaffActivity:
    """Write one entry of the staff activity log and return it.

    ``actor`` defaults to the signed-in user of ``request``; ``actor_label`` names who
    was tried when there is no user (a failed sign-in). ``changes`` comes from ``diff``,
    so secrets are already reduced to the fact that they changed.
    """
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    target_type = target_id = None
    target_repr = ""
    if target is not None:
        target_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
        target_id = str(target.pk)
        target_repr = str(target)[:200]
    return StaffActivity.objects.create(
        actor=actor,
        actor_label=(actor_label or (actor.email if actor else ""))[:254],
        action=action,
        target_type=target_type,
        target_id=target_id or "",
        target_repr=target_repr,
        changes=changes or {},
        ip_address=client_ip(request),
    )
