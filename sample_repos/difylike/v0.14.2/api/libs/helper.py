import random
import secrets
import string
import uuid
from datetime import datetime

import redis
from flask import request

from extensions.ext_redis import redis_client


def generate_string(n: int) -> str:
    letters_digits = string.ascii_letters + string.digits
    return "".join(secrets.choice(letters_digits) for _ in range(n))


def generate_text_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(f"{text}None".encode()).hexdigest()


def uuid_value(value) -> str:
    if value == "":
        return str(value)
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"{value} is not a valid uuid.")


def extract_remote_ip() -> str:
    if request.headers.get("CF-Connecting-IP"):
        return request.headers["CF-Connecting-IP"]
    if request.headers.getlist("X-Forwarded-For"):
        return request.headers.getlist("X-Forwarded-For")[0]
    return request.remote_addr or ""


def naive_utc_now() -> datetime:
    return datetime.utcnow().replace(microsecond=0)


class RateLimiter:
    def __init__(self, prefix: str, max_attempts: int, time_window: int):
        self.prefix = prefix
        self.max_attempts = max_attempts
        self.time_window = time_window

    def _key(self, email: str) -> str:
        return f"{self.prefix}:{email}"

    def is_rate_limited(self, email: str) -> bool:
        key = self._key(email)
        now = int(datetime.now().timestamp())
        try:
            redis_client.zremrangebyscore(key, "-inf", now - self.time_window)
            return redis_client.zcard(key) >= self.max_attempts
        except redis.exceptions.ConnectionError:
            return False

    def increment_rate_limit(self, email: str) -> None:
        now = int(datetime.now().timestamp())
        redis_client.zadd(self._key(email), {f"{now}-{random.random()}": now})
        redis_client.expire(self._key(email), self.time_window * 2)
