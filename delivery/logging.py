"""Keeps secrets out of the logs: every handler in settings passes records through this."""

from __future__ import annotations

import logging
import re

REDACTED = "[REDACTED]"

# key=value, "key": "value" and HTTP Authorization headers, for keys that name secrets.
_SECRET_KEYS = r"(?:password|passwd|secret|token|api[_-]?key|authorization|credentials?)"
_PATTERNS = [
    re.compile(rf"(?i)(\"{_SECRET_KEYS}\"\s*:\s*\")([^\"]*)(\")"),
    re.compile(rf"(?i)('{_SECRET_KEYS}'\s*:\s*')([^']*)(')"),
    re.compile(
        rf"(?i)(\b{_SECRET_KEYS}\s*[=:]\s*)((?:Bearer|PVEAPIToken=?|Basic)\s+)?([^\s,;&\"']+)"
    ),
]


def redact(text: str) -> str:
    """Replace the value of every secret-looking key in ``text``."""
    text = _PATTERNS[0].sub(rf"\g<1>{REDACTED}\g<3>", text)
    text = _PATTERNS[1].sub(rf"\g<1>{REDACTED}\g<3>", text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}{m.group(2) or ''}{REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites each record's message with its secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
