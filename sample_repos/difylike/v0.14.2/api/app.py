import sys

from flask import Flask

from configs import dify_config


def create_app() -> Flask:
    app = Flask(__name__)
    app.secret_key = dify_config.SECRET_KEY

    from extensions import ext_database, ext_redis

    ext_database.init_app(app)
    ext_redis.init_app(app)

    from controllers.console import bp as console_bp

    app.register_blueprint(console_bp)
    return app


app = create_app()

if __name__ == "__main__":
    if "--debug" in sys.argv:
        app.run(host="0.0.0.0", port=5001, debug=True)
    else:
        app.run(host="0.0.0.0", port=5001)
