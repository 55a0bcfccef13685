"""Extension objects, created once and bound to the app in `create_app`."""
from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import event
from sqlalchemy.engine import Engine

from qms.db import Base, configure_sqlite
from qms.scoping import ScopedSession

db = SQLAlchemy(model_class=Base, session_options={"class_": ScopedSession})
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()

event.listen(Engine, "connect", configure_sqlite)
