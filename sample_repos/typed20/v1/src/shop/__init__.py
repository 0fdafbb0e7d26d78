"""The shop application: importing it builds the web app."""
from fastapi import FastAPI

from .settings import settings

app = FastAPI(title=settings.name, debug=settings.debug)
