"""A small shop application (sample for modeldiff's migrations replay)."""
from flask import Flask  # not installed for the replay: becomes a stub

app = Flask(__name__)
app.config.from_envvar("SHOP_SETTINGS")
