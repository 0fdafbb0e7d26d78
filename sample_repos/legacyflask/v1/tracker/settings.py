"""Settings: like many Flask apps, they prepare the data directory when imported."""
import json
import os
import secrets

DATA_DIR = os.environ.get("TRACKER_DATA_DIR", "/var/lib/tracker-sample")
os.makedirs(os.path.join(DATA_DIR, "uploads"), exist_ok=True)

SECRET_FILE = os.path.join(DATA_DIR, "secret.key")
if not os.path.exists(SECRET_FILE):
    with open(SECRET_FILE, "w") as handle:
        handle.write(secrets.token_hex(16))
with open(SECRET_FILE) as handle:
    SECRET_KEY = handle.read()

with open(os.path.join(os.path.dirname(__file__), os.pardir, "conf", "logging.json")) as handle:
    LOGGING = json.load(handle)
TEXT_LIMIT = LOGGING["limits"]["text"]
