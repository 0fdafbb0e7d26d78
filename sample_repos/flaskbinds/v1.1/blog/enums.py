import enum


class Role(enum.Enum):
    READER = "reader"
    EDITOR = "editor"
    ADMIN = "admin"
    OWNER = "owner"
