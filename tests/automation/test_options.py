"""Settings staff change: defaults from the environment, a change recorded once, the
cache shared by every process emptied on change, lists of numbers checked."""

from __future__ import annotations

import pytest
from django import forms

from automation import options
from automation.forms import NumbersField
from automation.models import OptionChange

OPTION = options.Option(
    key="tests.days",
    label="Days",
    help_text="",
    default=lambda: 14,
)


@pytest.fixture(autouse=True)
def days_option(fake_timeline):
    options.register(OPTION)


@pytest.mark.django_db
def test_an_option_nobody_changed_follows_its_default_read_each_time(settings):
    assert options.get("tests.days") == 14
    assert options.is_default("tests.days")


@pytest.mark.django_db
def test_a_change_is_stored_recorded_and_seen_at_once(django_assert_num_queries):
    assert options.get("tests.days") == 14  # cached now

    assert options.change("tests.days", 30, actor=None) is True
    with django_assert_num_queries(1):  # the cache was emptied: read again, once
        assert options.get("tests.days") == 30
        assert options.get("tests.days") == 30
    assert options.change("tests.days", 30, actor=None) is False
    assert list(OptionChange.objects.values_list("key", "old_value", "new_value")) == [
        ("tests.days", 14, 30)
    ]


@pytest.mark.django_db
def test_an_unknown_option_is_an_error():
    with pytest.raises(KeyError, match="no automation option 'tests.nope'"):
        options.get("tests.nope")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("-7, -3, -1, 1, 3", [-7, -3, -1, 1, 3]), ("3,1,3", [1, 3]), ("", [])],
)
def test_a_list_of_days_is_read_sorted_without_repeats(text, expected):
    assert NumbersField(minimum=-60, maximum=60, required=False).clean(text) == expected


@pytest.mark.parametrize(
    ("text", "error"), [("1, two", "'two' is not a whole number"), ("90", "outside -60 to 60")]
)
def test_a_wrong_list_of_days_says_what_is_wrong(text, error):
    with pytest.raises(forms.ValidationError, match=error):
        NumbersField(minimum=-60, maximum=60).clean(text)
