"""Secrets never reach the logs: every handler passes records through RedactSecretsFilter."""

from __future__ import annotations

import logging
import sys

import pytest

from clientxcms.redaction import RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ('POST /api {"password": "hunter2", "user": "root"}', "hunter2"),
        ("headers={'Authorization': 'Bearer ptla_abc123'}", "ptla_abc123"),
        ("Authorization: Bearer ptla_abc123 sent", "ptla_abc123"),
        ("Authorization: PVEAPIToken=root@pam!ci=1b2c3d", "1b2c3d"),
        ("login with api_key=ABCDEF&node=1", "ABCDEF"),
        ("token: s3cr3t, retry", "s3cr3t"),
        # Any key whose name contains a secret word, in every notation.
        ("POST /oauth client_secret=cs-9f8e7d&grant=x", "cs-9f8e7d"),
        ("ftp login user=root pass=Pa55word!", "Pa55word!"),
        ("config {'private_key': '-----BEGIN KEY-----\\nMIIEv'}", "MIIEv"),
        ("s3 {'access_key': 'AKIAXYZ', 'region': 'eu'}", "AKIAXYZ"),
        ('{"api_key": "k-123", "node": 1}', "k-123"),
        ('{"api_key":"k-456"}', "k-456"),
        ("headers={'X-Auth-Token': 'xat-789'}", "xat-789"),
        ("X-Auth-Token: xat-790", "xat-790"),
        ("GET /x?signature=sig0987&expires=1", "sig0987"),
        ("aws_secret_access_key = wJalrXUt", "wJalrXUt"),
        ("{'credentials': 'c-1', 'id': 2}", "c-1"),
        ("{'secret': b'bytes-secret'}", "bytes-secret"),
        ('{"password": "with \\" quote"}', "quote"),
        ("PASSWORD=UpperCase1", "UpperCase1"),
        # Authorization and PVEAPIToken values anywhere, with or without the header.
        ("Authorization: Basic YWxhZGRpbjpvcGVu", "YWxhZGRpbjpvcGVu"),
        ("calling with PVEAPIToken=user@pam!id=0b1c-uuid-secret", "0b1c-uuid-secret"),
        ("calling with PVEAPIToken=user@pam!id=0b1c-uuid-secret", "user@pam"),
        ("[('Accept', 'json'), ('X', 'Bearer eyJhbGciOi.payload')]", "eyJhbGciOi"),
        # User information in URLs.
        ("connecting to https://admin:pw-zz9@pve.example.net:8006/api2", "pw-zz9"),
        ("cloning https://ghp_tok3n@github.com/org/repo", "ghp_tok3n"),
        ("broker redis://:redis-pw@cache:6379/0", "redis-pw"),
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


@pytest.mark.parametrize(
    "line",
    [
        "created server 42 on node fr-1 in 0.3 s",
        "the keyboard layout of the console is fr",
        "the password of customer 12 was changed by staff",
        "authentication succeeded for root on pve-1",
        "GET /admin/services/?status=active&sort=-id 200",
        "see https://pve.example.net:8006/api2/json/nodes",
        "expires at 2025-01-01 12:30:00+00:00",
    ],
)
def test_ordinary_text_is_left_alone(line):
    assert redact(line) == line


def test_the_url_user_is_kept_and_only_the_password_goes():
    assert redact("GET https://admin:pw@host/api") == "GET https://admin:[REDACTED]@host/api"


def test_redacting_twice_changes_nothing():
    once = redact("token=abc Authorization: Bearer abcdefgh https://a:b@h")

    assert redact(once) == once


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


@pytest.mark.parametrize(
    ("args", "secret"),
    [
        (({"client_secret": "cs-1", "id": 3},), "cs-1"),
        (({"headers": {"Authorization": "PVEAPIToken=u@pam!t=uuid-2"}},), "uuid-2"),
        (({"pass": "p-3"}, {"token": "t-4"}), "t-4"),
    ],
)
def test_the_filter_redacts_dicts_and_tuples_of_dicts_passed_as_arguments(args, secret):
    record = logging.LogRecord(
        "delivery", logging.INFO, __file__, 1, "call " + " ".join(["%s"] * len(args)), args, None
    )

    RedactSecretsFilter().filter(record)

    assert secret not in record.getMessage()
    assert "[REDACTED]" in record.getMessage()


def test_the_filter_redacts_a_mapping_argument():
    record = logging.LogRecord(
        "delivery", logging.INFO, __file__, 1, "login %(user)s with %(pass)s", None, None
    )
    record.args = {"user": "root", "pass": "password=hunter2"}

    RedactSecretsFilter().filter(record)

    assert record.getMessage() == "login root with password=[REDACTED]"


def test_the_filter_redacts_the_traceback():
    try:
        raise ConnectionError("https://admin:tb-secret@pve.example.net refused")
    except ConnectionError:
        record = logging.LogRecord(
            "delivery", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )

    RedactSecretsFilter().filter(record)

    assert "tb-secret" not in logging.Formatter().format(record)
    assert "https://admin:[REDACTED]@pve.example.net" in record.exc_text
