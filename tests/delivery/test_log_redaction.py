"""Secrets never reach the logs: every handler passes records through RedactSecretsFilter."""

from __future__ import annotations

import logging

import pytest

from delivery.logging import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('POST /api {"password": "hunter2", "user": "root"}', "hunter2"),
        ("headers={'Authorization': 'Bearer ptla_abc123'}", "ptla_abc123"),
        ("Authorization: Bearer ptla_abc123 sent", "ptla_abc123"),
        ("Authorization: PVEAPIToken=root@pam!ci=1b2c3d", "1b2c3d"),
        ("login with api_key=ABCDEF&node=1", "ABCDEF"),
        ("token: s3cr3t, retry", "s3cr3t"),
    ],
)
def test_secret_values_are_redacted(line, secret):
    cleaned = redact(line)

    assert secret not in cleaned
    assert "[REDACTED]" in cleaned


def test_harmless_text_is_left_alone():
    assert (
        redact("created server 42 on node fr-1 in 0.3 s")
        == "created server 42 on node fr-1 in 0.3 s"
    )


def test_the_filter_rewrites_formatted_records():
    record = logging.LogRecord(
        "delivery", logging.INFO, __file__, 1, "call %s", ("password=abc",), None
    )

    RedactSecretsFilter().filter(record)

    assert record.getMessage() == "call password=[REDACTED]"


def test_the_configured_console_handler_redacts():
    handlers = [h for h in logging.getLogger().handlers if h.get_name() == "console"]

    assert handlers
    assert all(any(isinstance(f, RedactSecretsFilter) for f in h.filters) for h in handlers)
