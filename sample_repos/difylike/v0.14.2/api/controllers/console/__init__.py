from flask import Blueprint

bp = Blueprint("console", __name__, url_prefix="/console/api")

from . import app  # noqa: E402,F401
