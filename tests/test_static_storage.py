"""Production's static files storage (clientxcms.storage): WhiteNoise's, its URLs kept."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from clientxcms.storage import StaticFilesStorage


@pytest.fixture
def storage(tmp_path, monkeypatch):
    manifest = {"version": "1.1", "hash": "x", "paths": {"css/app.css": "css/app.0a1b2c.css"}}
    (tmp_path / "staticfiles.json").write_text(json.dumps(manifest))
    made = StaticFilesStorage(location=tmp_path, base_url="/static/")
    looked_up = []
    stored_name = made.stored_name

    def counted(name):
        looked_up.append(name)
        return stored_name(name)

    monkeypatch.setattr(made, "stored_name", counted)
    made.looked_up = looked_up
    return made


def test_a_file_s_hashed_url_is_worked_out_once(storage):
    assert storage.url("css/app.css") == "/static/css/app.0a1b2c.css"
    assert storage.url("css/app.css") == "/static/css/app.0a1b2c.css"

    assert storage.looked_up == ["css/app.css"]


def test_debug_gives_the_unhashed_url_as_django_does(storage):
    assert storage.url("css/app.css") == "/static/css/app.0a1b2c.css"

    with override_settings(DEBUG=True):
        assert storage.url("css/app.css") == "/static/css/app.css"


def test_a_file_missing_from_the_manifest_is_still_an_error(storage):
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        storage.url("css/missing.css")
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        storage.url("css/missing.css")
