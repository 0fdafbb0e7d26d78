"""The application: built at import time, as many Flask apps do."""
from flask import Flask

from .config import Config
from .extensions import db


def create_app(config=Config):
    app = Flask(__name__)
    app.config.from_object(config)
    db.init_app(app)
    with app.app_context():
        db.create_all()  # connects to the database
    from . import views  # noqa: F401  (routes need flask_login)
    return app


app = create_app()
