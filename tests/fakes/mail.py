"""E-mail backends for tests of ``customers.mail``: a mail server that is away, one that
is away once, and one slow enough that concurrent senders overlap."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend


class FailingBackend(BaseEmailBackend):
    """A mail server that refuses every connection (an ``OSError``, as smtplib raises)."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError(111, "Connection refused by mail.example.test")


class FlakyBackend(LocmemBackend):
    """Refuses the first ``failures_left`` sends, then delivers to ``mail.outbox``."""

    failures_left: ClassVar[int] = 1

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        if FlakyBackend.failures_left > 0:
            FlakyBackend.failures_left -= 1
            raise ConnectionRefusedError(111, "Connection refused by mail.example.test")
        return super().send_messages(messages)


class SlowBackend(LocmemBackend):
    """Delivers to ``mail.outbox`` after a pause, so that racing senders overlap."""

    delay: ClassVar[float] = 0.2

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        time.sleep(self.delay)
        return super().send_messages(messages)
