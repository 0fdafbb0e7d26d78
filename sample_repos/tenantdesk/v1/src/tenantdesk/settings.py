import os

DATABASE_URL = os.environ["TENANTDESK_DATABASE_URL"]
