"""Configuration from `QMS_*` environment variables, with embedded defaults under `instance/`."""
from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """The configuration is unsafe or incomplete; the app refuses to start."""


DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    "MFA_REQUIRED": True,  # admins and quality managers must enrol TOTP
    "DEMO": False,
    # Password checks (qms.auth.throttle): free failures per key, then delays of 1, 2, 4... seconds.
    "LOGIN_WINDOW_MINUTES": 60,  # failures older than this are forgotten
    "THROTTLE_FREE_FAILURES": 5,  # one account from one address
    "THROTTLE_ADDRESS_FREE_FAILURES": 20,  # one address, any account
    "THROTTLE_ACCOUNT_FREE_FAILURES": 50,  # one account, every address but those its owner used
    "THROTTLE_BASE_DELAY_SECONDS": 1,  # the first delay; each further failure doubles it
    "THROTTLE_MAX_DELAY_SECONDS": 900,
    "THROTTLE_KNOWN_ADDRESS_DAYS": 30,
    "SESSION_HOURS": 12,  # a login ends this long after it began, whatever happens
    "SESSION_IDLE_MINUTES": 120,  # ... or this long after its last request
    "PASSWORD_RESET_HOURS": 24,
    "MFA_RECOVERY_CODES": 10,
    "PASSWORD_MIN_LENGTH": 12,
    "PAGE_SIZE": 50,
    "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "API_TITLE": "CSI-QMS API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Dates printed for a unit (file names, report footers) are in its time zone; units have none of
    # their own yet, so this one (QMS_DEFAULT_TIMEZONE, an IANA name read by zoneinfo).
    "DEFAULT_TIMEZONE": "Europe/Skopje",
    # The daily e-mail digest (qms notify): no host, no mail (the dashboard alone shows the reminders).
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_TLS": True,  # STARTTLS before logging in
    "MAIL_FROM": "",
    # Correlation searches of `qms worker` on a Dask cluster (QMS_DASK_SCHEDULER, e.g. tcp://10.0.0.5:8786);
    # empty: the worker's own process pool. Seconds allowed to connect and to finish each search stage.
    "DASK_SCHEDULER": "",
    "DASK_CONNECT_TIMEOUT": 10,
    "DASK_STAGE_TIMEOUT": 900,
}


def load_config(app: Flask, overrides: Mapping[str, Any] | None) -> None:
    """Fill app.config: defaults, then `QMS_*` variables, then the mapping a caller passed."""
    app.config.update(DEFAULTS)
    app.config.from_prefixed_env("QMS")  # QMS_DATABASE_URL -> DATABASE_URL, JSON values parsed
    if overrides:
        app.config.update(overrides)
    _apply_instance_defaults(app)
    _check_production(app)
    app.config["SQLALCHEMY_DATABASE_URI"] = app.config["DATABASE_URL"]
    if not str(app.config["DATABASE_URL"]).startswith("sqlite"):
        # At least as many pooled connections as the server has threads (waitress: 8).
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 10, "max_overflow": 10,
                                                   **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    app.config["SESSION_COOKIE_SECURE"] = app.config["ENV"] == "production"


def _apply_instance_defaults(app: Flask) -> None:
    instance = Path(app.config.get("INSTANCE_PATH") or app.instance_path)
    app.config["INSTANCE_PATH"] = str(instance)
    # The SQLite file holds password hashes and MFA secrets: only the owner may enter.
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    app.config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'qms.sqlite3'}")
    app.config.setdefault("OBJECT_STORE", str(instance / "objects"))
    if not app.config.get("SECRET_KEY") and app.config["ENV"] != "production":
        app.config["SECRET_KEY"] = _instance_secret(instance)


def _instance_secret(instance: Path) -> str:
    """A random key kept in instance/, so development sessions survive a restart."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def _check_production(app: Flask) -> None:
    if app.config["ENV"] != "production":
        return
    if not app.config.get("SECRET_KEY"):
        raise ConfigError("QMS_ENV=production needs QMS_SECRET_KEY: refusing to start without a secret key")
    if str(app.config["DATABASE_URL"]).startswith("sqlite"):
        log.warning("production on SQLite: a PostgreSQL database (QMS_DATABASE_URL) is recommended")
    if app.config.get("DEMO"):
        raise ConfigError("demo mode is refused in production")
