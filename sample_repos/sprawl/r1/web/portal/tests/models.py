from sqlalchemy import Column, Integer, MetaData, Table

fixture_table = Table("fixture", MetaData(), Column("id", Integer, primary_key=True))
