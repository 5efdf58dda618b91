"""The Celery application.

With ``REDIS_URL`` set, tasks go to Redis and run in a worker; without it (the embedded
``make run`` mode) settings make Celery run them in-process. Tests never rely on the
in-process mode: they call task functions directly, and the integration tests start a
real worker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clientxcms.settings")

app = Celery("clientxcms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
