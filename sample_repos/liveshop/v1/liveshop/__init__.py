import os

import sqlalchemy as sa

engine = sa.create_engine(os.environ.get("LIVESHOP_DATABASE_URL", "postgresql:///liveshop"))
