"""The bench's settings: production's (``clientxcms.settings`` with ``DEBUG`` off, set by
``bench.common.configure_django``), plus Django's own admin app.

The admin app is there only for ``bench/admin_urls.py``: ``bench/list_views.py`` measures
the project's service list beside Django's admin changelist over the same rows, and the
changelist's templates and static files come with the app. Nothing else differs from
production: cached template loaders, no query log, the manifest static storage (its
files collected once into ``var/bench-static``, outside the project's ``STATIC_ROOT``).
"""

from __future__ import annotations

from clientxcms.settings import *  # noqa: F403
from clientxcms.settings import BASE_DIR, INSTALLED_APPS, TEMPLATES

INSTALLED_APPS = [*INSTALLED_APPS, "django.contrib.admin"]
STATIC_ROOT = BASE_DIR / "var" / "bench-static"

#: The project's ``templates/admin/base.html`` (its staff pages' layout) has the name of
#: Django's admin layout, and the project's template folder is searched first: Django's
#: admin renders with an engine of its own (``bench.admin_urls``), the apps' templates
#: only, so that its changelist is Django's, as it would be in a project that uses it.
TEMPLATES = [
    *TEMPLATES,
    {**TEMPLATES[0], "NAME": "django_admin", "DIRS": []},
]
