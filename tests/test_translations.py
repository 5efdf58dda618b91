"""Both languages are complete: every template string is marked, every msgid has its French.

``make messages`` gathers the strings; these tests fail when a change added text that no
translator sees (typed straight into a template) or a msgid the French catalogue lacks, so
that no French page shows a stray English sentence.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.conf import settings

from tests.translation_check import templates_under, untranslated_in

ROOT = Path(settings.BASE_DIR)
FRENCH = ROOT / "locale" / "fr" / "LC_MESSAGES" / "django.po"
#: What ``make messages`` reads: the apps and the templates (not tests, benches, data).
SOURCES = (
    *("clientxcms", "customers", "products", "delivery", "services", "billing"),
    *("automation", "dashboard", "demo", "templates", "locale"),
)


def test_every_template_string_is_marked_for_translation() -> None:
    found = [
        str(item) for path in templates_under(ROOT / "templates") for item in untranslated_in(path)
    ]
    assert found == []


def test_the_checker_finds_unmarked_text_in_tags_attributes_and_arguments(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text(
        '{% load i18n %}<h1>{% translate "Services" %}</h1>\n'
        '<p title="Renew now">{% blocktranslate %}Due {{ when }}{% endblocktranslate %}</p>\n'
        '{% include "components/x.html" with heading="New order" label=_("Marked") %}\n'
        "<span>{{ service.name }} — CSV</span><em>Expired</em>\n",
        encoding="utf-8",
    )
    assert [(item.line, item.text) for item in untranslated_in(page)] == [
        (2, "Renew now"),
        (3, "New order"),
        (4, "Expired"),
    ]


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory: pytest.TempPathFactory) -> polib.POFile:
    """The French catalogue as ``make messages`` would leave it after gathering today's strings.

    Run on a copy of the sources, so that the repository's catalogue is only read.
    """
    copy = tmp_path_factory.mktemp("messages")
    for name in SOURCES:
        shutil.copytree(
            ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo")
        )
    django_admin = Path(sys.executable).with_name("django-admin")
    subprocess.run(
        [str(django_admin), "makemessages", "-l", "fr", "--no-wrap", "--no-location"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return polib.pofile(str(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"))


def test_the_french_catalogue_translates_every_msgid(fresh_catalogue: polib.POFile) -> None:
    missing = [
        entry.msgid for entry in fresh_catalogue if not entry.obsolete and not entry.translated()
    ]
    assert len(fresh_catalogue) > 1000
    assert missing == []


def test_the_french_catalogue_keeps_every_placeholder() -> None:
    # msgfmt --check-format refuses a python-format msgstr whose %(name)s differ from the msgid.
    result = subprocess.run(
        ["msgfmt", "--check-format", "--output-file=/dev/null", str(FRENCH)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
