"""Server credentials are encrypted at rest and never leak through the model."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core import serializers
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from delivery import crypto
from delivery.models import Server
from tests.factories import FakeServerFactory

SECRET = "ptla_super-secret-application-key"


@pytest.fixture
def server(db):
    return FakeServerFactory(credentials={"api_key": SECRET, "fail": ""})


def test_the_credentials_column_does_not_hold_the_secret(server):
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM delivery_server WHERE id = %s", [server.pk])
        (stored,) = cursor.fetchone()

    assert SECRET not in stored
    assert "api_key" not in stored
    assert Server.objects.get(pk=server.pk).credentials == {"api_key": SECRET, "fail": ""}


def test_the_secret_is_not_in_repr_str_or_a_serialised_dump(server):
    dumped = serializers.serialize("json", Server.objects.all())

    assert SECRET not in repr(server)
    assert SECRET not in str(server)
    assert SECRET not in dumped


def test_a_rotated_key_still_reads_old_rows_and_encrypts_with_the_new_one(server, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    assert Server.objects.get(pk=server.pk).credentials["api_key"] == SECRET
    token = crypto.encrypt("x")
    assert Fernet(new_key.encode()).decrypt(token.encode()) == b"x"


def test_a_wrong_key_is_a_clear_configuration_error(server, settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]

    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        Server.objects.get(pk=server.pk)


def test_credentials_are_validated_by_the_module(db):
    from django.core.exceptions import ValidationError

    server = Server(name="n", module="test", hostname="h", credentials={"fail": ""})

    with pytest.raises(ValidationError, match="api_key"):
        server.full_clean()
