from flask import Flask

from configs import dify_config
from models.engine import db


def init_app(app: Flask):
    app.config["SQLALCHEMY_DATABASE_URI"] = (
        f"postgresql://{dify_config.DB_USERNAME}:{dify_config.DB_PASSWORD}"
        f"@{dify_config.DB_HOST}:{dify_config.DB_PORT}/{dify_config.DB_DATABASE}"
    )
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": dify_config.SQLALCHEMY_POOL_SIZE}
    db.init_app(app)
