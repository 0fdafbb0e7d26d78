import base64
import hashlib
import hmac
import os
import time

import oss2

from configs import dify_config


def get_signed_file_url(upload_file_id: str) -> str:
    url = f"{dify_config.FILES_URL}/files/{upload_file_id}/file-preview"
    timestamp = str(int(time.time()))
    nonce = os.urandom(16).hex()
    sign = _sign(f"file-preview|{upload_file_id}|{timestamp}|{nonce}")
    return f"{url}?timestamp={timestamp}&nonce={nonce}&sign={sign}"


def verify_file_signature(*, upload_file_id: str, timestamp: str, nonce: str, sign: str) -> bool:
    expected = _sign(f"file-preview|{upload_file_id}|{timestamp}|{nonce}")
    if not hmac.compare_digest(sign, expected):
        return False
    return int(time.time()) - int(timestamp) <= dify_config.FILES_ACCESS_TIMEOUT


def get_oss_object_url(bucket_name: str, key: str, expires: int = 300) -> str:
    auth = oss2.Auth(os.environ.get("OSS_ACCESS_KEY", ""), os.environ.get("OSS_SECRET_KEY", ""))
    bucket = oss2.Bucket(auth, os.environ.get("OSS_ENDPOINT", ""), bucket_name)
    return bucket.sign_url("GET", key, expires)


def _sign(data: str) -> str:
    key = dify_config.SECRET_KEY.encode()
    digest = hmac.new(key, data.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()
