# Production image: one image for web (gunicorn), worker and beat (Celery); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var

WORKDIR /app

# WeasyPrint (invoice PDFs) lays text out with pango and harfbuzz, and needs a font; GNU
# gettext compiles the translations (locale/) below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
        gettext \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, read from pyproject.toml, so that code changes reuse this layer.
COPY pyproject.toml /app/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project runs from /app (templates/ and static/ are top-level directories).
COPY . /app
# Compile the translations (locale/*/LC_MESSAGES/django.po, kept in git) next to them, as
# `make install` does.
RUN for po in locale/*/LC_MESSAGES/django.po; do msgfmt --check-format -o "${po%.po}.mo" "$po"; done
RUN pip install --no-cache-dir --no-deps -e . \
    && useradd --system --uid 1000 --user-group --no-log-init --home-dir /app app \
    && mkdir -p /app/var /app/staticfiles \
    && chown app:app /app/var /app/staticfiles

USER app

# Collect static files into the image, so web, worker and beat all have the manifest.
# Settings refuse to start without keys when DEBUG is off: throwaway ones are enough here.
RUN SECRET_KEY=collectstatic-only \
    FIELD_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput

EXPOSE 8000
CMD ["gunicorn", "clientxcms.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
