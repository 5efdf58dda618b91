"""The business settings an administrator changes in the panel (DESIGN.md §4).

Each app registers its own (``register``) when it starts, with a default read from the
Django settings, which come from today's environment variables: a setting nobody changed
follows the environment, one staff changed is a row of ``OptionValue`` and each change is
an ``OptionChange`` (who, when, from and to). The rows are read once and kept in Django's
cache (Redis in production, so every process sees a change at once), emptied on change.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext_lazy

from .models import OptionChange, OptionValue

CACHE_KEY = "automation:options"
#: How long a process may keep the rows when the cache is not shared (the embedded mode's
#: in-memory cache, one per process): a change reaches the automation process this late.
CACHE_SECONDS = 60
#: The heading of an option registered without a group (translated when shown).
GENERAL = cast(str, gettext_lazy("General"))


class Kind(enum.Enum):
    """What an option holds, and so how the settings page edits it."""

    NUMBER = "number"  # a whole number between ``minimum`` and ``maximum``
    NUMBERS = "numbers"  # a list of whole numbers (days before and after a date)
    SWITCH = "switch"  # on or off


@dataclass(frozen=True)
class Option:
    """One setting: its key (``<app>.<name>``), what the page shows, and its default."""

    key: str
    label: str
    help_text: str
    default: Callable[[], Any]
    kind: Kind = Kind.NUMBER
    minimum: int = 0
    maximum: int = 3650
    #: The heading it is listed under on the settings page.
    group: str = GENERAL


_OPTIONS: dict[str, Option] = {}


def register(option: Option) -> Option:
    """Make ``option`` known; registering the same key again replaces it."""
    _OPTIONS[option.key] = option
    return option


def registered() -> list[Option]:
    """Every option, by group then in the order registered."""
    groups: dict[str, list[Option]] = {}
    for option in _OPTIONS.values():
        groups.setdefault(option.group, []).append(option)
    return [option for group in groups.values() for option in group]


def find(key: str) -> Option:
    try:
        return _OPTIONS[key]
    except KeyError:
        raise KeyError(f"no automation option {key!r} is registered") from None


def _stored() -> dict[str, Any]:
    """The values staff set, by key (cached)."""
    stored = cache.get(CACHE_KEY)
    if stored is None:
        stored = dict(OptionValue.objects.values_list("key", "value"))
        cache.set(CACHE_KEY, stored, timeout=CACHE_SECONDS)
    return stored


def get(key: str) -> Any:
    """The value of ``key``: what staff set, else its default."""
    option = find(key)
    stored = _stored()
    return stored[key] if key in stored else option.default()


def is_default(key: str) -> bool:
    """Whether ``key`` follows its default (nobody changed it)."""
    return key not in _stored()


def change(key: str, value: Any, *, actor: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Set ``key`` to ``value`` and record the change; False when it already had it."""
    find(key)
    old = get(key)
    if old == value:
        return False
    with transaction.atomic():
        OptionValue.objects.update_or_create(key=key, defaults={"value": value})
        OptionChange.objects.create(
            key=key,
            old_value=old,
            new_value=value,
            changed_by_id=actor.pk if actor is not None and actor.is_authenticated else None,
        )
        # Emptied again once committed: a process that read the rows in between must not
        # keep the old value.
        transaction.on_commit(lambda: cache.delete(CACHE_KEY))
    cache.delete(CACHE_KEY)
    return True
