import redis
from flask import Flask

from configs import dify_config


class RedisClientWrapper:
    """Holds the client created in init_app so modules can import it early."""

    def __init__(self):
        self._client = None

    def initialize(self, client):
        if self._client is None:
            self._client = client

    def __getattr__(self, item):
        if self._client is None:
            raise RuntimeError("Redis client is not initialized. Call init_app first.")
        return getattr(self._client, item)


redis_client = RedisClientWrapper()


def init_app(app: Flask):
    pool = redis.ConnectionPool(
        host=dify_config.REDIS_HOST,
        port=dify_config.REDIS_PORT,
        db=dify_config.REDIS_DB,
        decode_responses=False,
    )
    redis_client.initialize(redis.Redis(connection_pool=pool))
    app.extensions["redis"] = redis_client
