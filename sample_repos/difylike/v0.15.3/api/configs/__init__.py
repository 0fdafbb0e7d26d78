from pydantic import Field, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseConfig(BaseSettings):
    DB_TYPE: str = Field(
        description="Database backend: postgresql, or another dialect for experimental setups",
        default="postgresql",
    )
    DB_HOST: str = Field(description="Database host", default="localhost")
    DB_PORT: PositiveInt = Field(description="Database port", default=5432)
    DB_USERNAME: str = Field(description="Database user", default="postgres")
    DB_PASSWORD: str = Field(description="Database password", default="")
    DB_DATABASE: str = Field(description="Database name", default="dify")
    SQLALCHEMY_POOL_SIZE: int = Field(description="Connection pool size", default=30)


class RedisConfig(BaseSettings):
    REDIS_HOST: str = Field(description="Redis host", default="localhost")
    REDIS_PORT: PositiveInt = Field(description="Redis port", default=6379)
    REDIS_DB: int = Field(description="Redis database number", default=0)


class StorageConfig(BaseSettings):
    STORAGE_TYPE: str = Field(description="Object storage backend", default="opendal")
    FILES_URL: str = Field(description="Public base URL for file previews", default="")
    FILES_ACCESS_TIMEOUT: int = Field(description="Signed URL lifetime in seconds", default=300)


class DifyConfig(DatabaseConfig, RedisConfig, StorageConfig):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    SECRET_KEY: str = Field(description="Key used to sign sessions and file URLs", default="")
    CURRENT_VERSION: str = Field(description="Dify version", default="0.15.3")


dify_config = DifyConfig()
