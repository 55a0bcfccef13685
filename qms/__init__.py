"""CSI-QMS: quality management, chain of custody and ballistic intelligence for forensic units."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

__version__ = "0.1.0"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: configuration, extensions, blueprints, commands."""
    from qms import api, commands, errors, i18n, ledger, security, templating, transactions
    from qms.auth import guard
    from qms.config import load_config
    from qms.extensions import csrf, db, migrate
    from qms.models import register_models

    app = Flask(__name__, instance_relative_config=True)
    load_config(app, config)

    register_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(app.root_path + "/migrations"), render_as_batch=True)
    csrf.init_app(app)
    i18n.init_app(app)
    guard.init_app(app)
    security.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    transactions.init_app(app)
    ledger.init_app(app)

    from qms.domains import domain_modules

    for views in domain_modules("views"):
        app.register_blueprint(views.bp)
    api.init_app(app)
    commands.init_app(app)
    return app
