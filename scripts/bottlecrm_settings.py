"""Django settings to run BottleCRM (PyPI ``django-crm`` 0.9.0) unmodified on 127.0.0.1 for the harness.

Configuration only, no patch: this module imports the package's own ``crm.settings`` and
overrides deployment choices: SQLite under ``.real-crm/`` instead of PostgreSQL, an
in-memory Celery broker (every write view queues an e-mail task; with no broker the
write commits and then answers 500), DEBUG off, loopback hosts only, and a secret key
generated once per installation instead of the one published in the package.

``wsgi_application`` is the WSGI factory the server calls (``waitress-serve --call``): it
also sets ``settings.Domain``, which BottleCRM's views read but Django does not copy
from a settings module because the name is not upper case.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from crm.settings import *  # noqa: F403 - BottleCRM's own settings, overridden below

STATE_DIR = Path(os.environ.get("BOTTLECRM_STATE_DIR", Path(__file__).resolve().parent.parent / ".real-crm"))
PORT = os.environ.get("BOTTLECRM_PORT", "8010")


def _secret_key(path: Path) -> str:
    """A key made on first use and kept (mode 600) in the state folder, so JWTs survive restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key(STATE_DIR / "secret-key")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(STATE_DIR / "bottlecrm.sqlite3")},
}
CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = None
DOMAIN = f"127.0.0.1:{PORT}"
DOMAIN_NAME = DOMAIN
MEDIA_ROOT = str(STATE_DIR / "media")
LOGGING["handlers"]["logfile"]["filename"] = str(STATE_DIR / "server.log")  # noqa: F405


def wsgi_application() -> Any:
    """The WSGI application, with ``settings.Domain`` set as BottleCRM's views expect."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    application = get_wsgi_application()
    settings.Domain = DOMAIN
    return application
