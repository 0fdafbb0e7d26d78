"""What stands in for the uuid-ossp extension, which the embedded PostgreSQL does not bundle:
SQL bodies of its functions, shared by the model schemas (compare/materialize.py), the
replay (replay/child.py) and the live schema copy (preflight/copy.py)."""

UUID_OSSP = {
    "uuid_generate_v4": "SELECT gen_random_uuid()",
    "uuid_generate_v1": "SELECT gen_random_uuid()",
    "uuid_generate_v1mc": "SELECT gen_random_uuid()",
    "uuid_nil": "SELECT '00000000-0000-0000-0000-000000000000'::uuid",
}


def uuid_function(name: str, replace: bool = False) -> str:
    """CREATE [OR REPLACE] FUNCTION for one of UUID_OSSP's names (volatile: the plan stage
    tells a volatile default, which rewrites, from a constant one)."""
    body = UUID_OSSP[name].replace("'", "''")
    return f"CREATE {'OR REPLACE ' if replace else ''}FUNCTION {name}() RETURNS uuid LANGUAGE sql VOLATILE AS '{body}'"


# Extension -> SQL that creates its stand-ins (for `CREATE EXTENSION` of one the server lacks).
# Each marked (MARK), so that the catalog comparison does not take it for the schema's own.
MARK = "modeldiff stand-in"
STAND_INS = {"uuid-ossp": " ".join(f"{uuid_function(name, replace=True)}; COMMENT ON FUNCTION {name}() IS '{MARK}';" for name in UUID_OSSP)}
