import os

import sqlalchemy as sa

engine = sa.create_engine(os.environ["TICKETS_DATABASE_URL"])
