import os


class Settings:
    DB_TYPE = os.environ.get("DB_TYPE", "mysql")


settings = Settings()
