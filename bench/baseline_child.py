"""The baseline's per-ref worker: import one extracted tree's models in this process (with
modeldiff's stub finder, since an app's dependencies are not installed) and either create
them in a database (`create URL`) or compare them with alembic against one (`compare URL`).

    python baseline_child.py TREE IMPORT_ROOT MODELS_PATH SETTINGS_JSON create|compare DB_URL
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modeldiff.load import importer  # noqa: E402
from modeldiff.load.child import model_modules  # noqa: E402
from modeldiff.load.ddl import find_metadatas  # noqa: E402
from modeldiff.source.blobs import make_reader  # noqa: E402

tree, import_root, models_path, settings, mode, url = sys.argv[1:7]
root = Path(tree)
manifest = {str(p.relative_to(root)): str(p) for p in root.rglob("*") if p.is_file()}
package = models_path[len(import_root) + 1 if import_root else 0:].replace("/", ".")
repo = importer.RepoImporter(manifest, make_reader({"kind": "worktree"}), import_root, package, Path(tempfile.mkdtemp()), json.loads(settings))
importer.install(repo)
for name in model_modules(manifest, import_root, models_path):
    __import__(name)

from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from sqlalchemy import MetaData, create_engine, text  # noqa: E402

merged = MetaData()
for _, metadata in find_metadatas(repo.loaded):
    for table in metadata.tables.values():
        if table.key not in merged.tables:
            table.to_metadata(merged)
engine = create_engine(url)
with engine.begin() as conn:
    if mode == "create":
        conn.execute(text("CREATE OR REPLACE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'"))
        conn.execute(text("CREATE OR REPLACE FUNCTION uuidv7() RETURNS uuid LANGUAGE sql VOLATILE AS 'SELECT gen_random_uuid()'"))
        for table in merged.sorted_tables:  # one by one: a table PostgreSQL rejects is skipped
            try:
                with conn.begin_nested():
                    table.create(conn)
            except Exception:  # noqa: BLE001
                pass
    else:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
        print(len(compare_metadata(context, merged)))
