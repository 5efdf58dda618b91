"""PVE's error answers (delivery-apis.md B.3) and a worker's failure (B.4 "Tasks")."""

from __future__ import annotations

PARAM_FAILED = "Parameter verification failed."


class PveError(Exception):
    """An error answer: HTTP ``status``, ``message`` (its first line is the reason phrase,
    the body carries it with a trailing newline) and, for a parameter error, ``errors``."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


def die(message: str) -> PveError:
    """A plain ``die`` in a handler, which ``rest_handler`` answers with a 500."""
    return PveError(500, message)


def param_error(errors: dict[str, str]) -> PveError:
    """``raise_param_exc``: 400 ``Parameter verification failed.`` with the ``errors`` map."""
    return PveError(400, PARAM_FAILED, errors)


def permission_denied(path: str, privilege: str) -> PveError:
    """``raise_perm_exc("$path, $priv")`` of ``RPCEnvironment::check``."""
    return PveError(403, f"Permission check failed ({path}, {privilege})")


class TaskFailed(Exception):
    """A ``die`` inside a worker: the task ends with this text as its ``exitstatus``."""
