"""A JSON field stored encrypted, for server credentials."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import models

from .crypto import decrypt, encrypt

if TYPE_CHECKING:
    from django.db.models.expressions import Combinable

    # The model attribute holds a dict, not TextField's str (django-stubs' field generics).
    _TextField = models.TextField[dict[str, Any] | Combinable, dict[str, Any]]
else:
    _TextField = models.TextField


class EncryptedJSONField(_TextField):
    """Keeps a dict in Python and a Fernet token in the database.

    The column cannot be searched or compared; it is only ever read whole.
    """

    description = "JSON encrypted at rest"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("default", dict)
        kwargs.setdefault("blank", True)
        kwargs["editable"] = False
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> tuple[str, str, Sequence[Any], dict[str, Any]]:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> dict | None:
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> dict:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return json.loads(value)

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return encrypt(json.dumps(value, sort_keys=True))

    def value_to_string(self, obj: models.Model) -> str:
        """Serialisation (dumpdata, exports) never carries the plaintext."""
        return ""
