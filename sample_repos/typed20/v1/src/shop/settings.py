import os
import tomllib


class Settings:
    def __init__(self) -> None:
        with open("/etc/shop/shop.toml", "rb") as handle:  # deployments ship this file
            data = tomllib.load(handle)
        self.name = data["name"]
        self.debug = bool(data.get("debug"))
        self.database_url = os.environ["SHOP_DATABASE_URL"]


settings = Settings()

# Digits after the decimal point of prices; a plain default when unset.
PRICE_SCALE = int(os.environ.get("SHOP_PRICE_SCALE", "2"))
