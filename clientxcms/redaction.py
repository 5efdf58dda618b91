"""Keeps secrets out of the logs and of what staff read: every log handler in settings passes
records through this, and the module call log and the automation runs store text redacted.

Modules log their calls whole (URLs, headers, payloads), so redaction cannot wait for a
known key list: any key whose *name* suggests a secret loses its value, and a few
secret *shapes* are hidden wherever they appear:

* ``name=value``, ``name: value``, ``"name": "value"`` and ``'name': 'value'`` when the
  name contains secret, pass, token, key, auth, credential or signature
  (``client_secret``, ``pass``, ``private_key``, ``X-Auth-Token``...);
* ``Bearer ...`` and ``PVEAPIToken=...`` anywhere, with or without a header before them;
* the user information of a URL (``https://admin:pw@host`` keeps the user, not ``pw``).

Plain prose survives: a name needs ``=`` or ``:`` after it to count as a key, so
"keyboard" or "the password was changed" are left alone.
"""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"

_SECRET_WORDS = r"(?:secret|pass|token|key|auth|credential|signature)"
_KEY_VALUE = re.compile(
    rf"""
    (?<![\w.-])
    (?P<key>(?P<quote>["']?)[\w.-]*{_SECRET_WORDS}[\w.-]*(?P=quote)\s*[:=]\s*)
    (?P<scheme>(?:Bearer|Basic|Token|PVEAPIToken)(?:\s+|=))?+  # possessive: never the value
    (?:
        (?P<open>b?(?P<q>["']))(?:\\.|(?!(?P=q)).)*(?P=q)
      | [^\s,;&"'{{}}\[\]()<>]+
    )
    """,
    re.IGNORECASE | re.VERBOSE,
)
# A bearer token or a Proxmox API token wherever it is, e.g. in a repr of a header list.
_BEARER = re.compile(r"\b(Bearer\s+)[\w.~+/-]{6,}=*")
_PVE_TOKEN = re.compile(r"\b(PVEAPIToken[=\s]\s*)[^\s,;&\"'\]})]+", re.IGNORECASE)
# scheme://user:password@ (the password goes) and scheme://token@ (all of it goes).
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+@", re.IGNORECASE)
_URL_USER_ONLY = re.compile(r"\b([a-z][a-z0-9+.-]*://)[^/\s:@\[]+@", re.IGNORECASE)


def _redact_value(match: re.Match[str]) -> str:
    """The key and its scheme kept, the value replaced (inside its quotes when quoted)."""
    kept = match["key"] + (match["scheme"] or "")
    if match["q"]:
        return f"{kept}{match['open']}{REDACTED}{match['q']}"
    return kept + REDACTED


def redact(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``[REDACTED]``."""
    text = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}@", text)
    text = _URL_USER_ONLY.sub(rf"\g<1>{REDACTED}@", text)
    text = _KEY_VALUE.sub(_redact_value, text)
    text = _PVE_TOKEN.sub(rf"\g<1>{REDACTED}", text)
    return _BEARER.sub(rf"\g<1>{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message, and its traceback, with the secrets redacted.

    The message is redacted after formatting (``getMessage``), so secrets passed as
    arguments, dicts and tuples of dicts included, are caught as they will be printed.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format is the handler's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
