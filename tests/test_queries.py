"""The query expressions the lists share (clientxcms.queries)."""

from __future__ import annotations

import pytest
from django.db import connection

from clientxcms.queries import ChoiceLiteral
from services.choices import ServiceStatus
from services.models import Service
from tests.factories import ServiceFactory


def test_a_choice_literal_is_written_into_the_sql_without_parameters():
    compiler = Service.objects.all().query.get_compiler(connection=connection)

    assert ChoiceLiteral("active", ServiceStatus.values).as_sql(compiler, connection) == (
        "'active'",
        [],
    )


@pytest.mark.parametrize("value", ["unknown", "active'--", "ACTIVE", "100%", ""])
def test_a_value_outside_the_choices_or_not_plain_is_refused(value):
    with pytest.raises(ValueError, match="is not a plain choice"):
        ChoiceLiteral(value, {*ServiceStatus.values, "active'--", "ACTIVE", "100%", ""})


@pytest.mark.django_db
def test_a_choice_literal_selects_the_rows_of_that_choice():
    active = ServiceFactory(status=ServiceStatus.ACTIVE)
    ServiceFactory(status=ServiceStatus.SUSPENDED)

    chosen = Service.objects.filter(status__in=[ChoiceLiteral("active", ServiceStatus.values)])

    assert list(chosen) == [active]
