"""fk-without-index."""

from __future__ import annotations

from typing import Any

from tools.explain.ecto_fix import index_fix
from tools.health.catalog import USER_SCHEMA
from tools.health.model import Env, Example, Finding, HealthCheck, HealthFix, human_bytes, human_count, qualified

ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


class FkWithoutIndex(HealthCheck):
    """Fires on a foreign key whose columns are not the leading columns (in any order) of a valid,
    non-partial btree or hash index on the referencing table (pg-index-health foreign keys without
    index; ecto_psql_extras missing_fk_indexes). Ecto's `references/2` creates the constraint but
    never an index, so this is the most common missing index in Ecto apps.

    A warning when the referencing table has at least 10,000 rows (PgHero's floor for missing
    indexes), info below: each delete of a parent row, and each update of its key, looks up the
    children with `WHERE fk = $1`, a sequential scan without the index; with ON DELETE CASCADE
    that scan runs inside the parent's delete, holding its locks.
    """

    id = "fk-without-index"
    title = "Foreign key without an index"
    what = "A foreign key whose referencing columns have no index that starts with them."
    why = ("Deleting or re-keying a parent row makes PostgreSQL find its children by the foreign-key "
           "columns; without an index that is a sequential scan of the child table per parent row, and "
           "preloads (`Repo.preload(:comments)`) filter by the same columns.")
    threshold = ("Every foreign key (pg-index-health, ecto_psql_extras); warning when the referencing table "
                 "has >= 10,000 rows (PgHero's missing-index floor), else info.")
    fix = "Create the index concurrently: `create index(:child, [:parent_id], concurrently: true)`."
    examples = [
        Example(
            fires=True, object="tasks.project_id", severity="warning",
            setup="""
                CREATE TABLE projects (id bigserial PRIMARY KEY, name text NOT NULL);
                INSERT INTO projects (name) SELECT 'p' || g FROM generate_series(1, 100) g;
                CREATE TABLE tasks (id bigserial PRIMARY KEY, title text NOT NULL,
                    project_id bigint NOT NULL REFERENCES projects ON DELETE CASCADE);
                INSERT INTO tasks (title, project_id) SELECT 't' || g, 1 + g % 100 FROM generate_series(1, 20000) g;
                ANALYZE;
            """,
            fix_has=("create index(:tasks, [:project_id], concurrently: true)",
                     "CREATE INDEX CONCURRENTLY tasks_project_id_index ON tasks (project_id);"),
        ),
        Example(
            fires=False, note="a composite index that starts with the key covers it",
            setup="""
                CREATE TABLE projects (id bigserial PRIMARY KEY);
                CREATE TABLE tasks (id bigserial PRIMARY KEY, project_id bigint REFERENCES projects,
                                    inserted_at timestamp);
                CREATE INDEX tasks_project_id_inserted_at_index ON tasks (project_id, inserted_at);
            """,
        ),
        Example(
            fires=True, object="tasks.project_id", note="the key as the second column does not help",
            setup="""
                CREATE TABLE projects (id bigserial PRIMARY KEY);
                CREATE TABLE tasks (id bigserial PRIMARY KEY, project_id bigint REFERENCES projects, status text);
                CREATE INDEX tasks_status_project_id_index ON tasks (status, project_id);
            """,
        ),
    ]

    def collect(self, db) -> list[dict[str, Any]]:
        fks = db.rows(f"""
            SELECT c.oid, c.conname, n.nspname AS schema, t.relname AS table, pn.nspname AS parent_schema,
                   p.relname AS parent, c.conrelid, c.conkey::int2[] AS conkey, c.confdeltype, c.confupdtype,
                   ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(attnum, ord)
                         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
                   pg_get_constraintdef(c.oid) AS definition,
                   greatest(t.reltuples, coalesce(st.n_live_tup, 0)) AS child_rows, pg_table_size(t.oid) AS child_bytes,
                   coalesce(ps.n_tup_del, 0) AS parent_deletes, coalesce(ps.n_tup_upd, 0) AS parent_updates
            FROM pg_constraint c
            JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            JOIN pg_class p ON p.oid = c.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
            LEFT JOIN pg_stat_all_tables st ON st.relid = t.oid
            LEFT JOIN pg_stat_all_tables ps ON ps.relid = p.oid
            WHERE c.contype = 'f' AND c.conparentid = 0 AND {USER_SCHEMA}
            ORDER BY n.nspname, t.relname, c.conname""")
        if not fks:
            return []
        idx = db.rows("""
            SELECT x.indrelid, string_to_array(x.indkey::text, ' ')::int2[] AS keys, x.indnkeyatts AS nkey
            FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_am am ON am.oid = i.relam
            WHERE x.indisvalid AND x.indpred IS NULL AND am.amname IN ('btree', 'hash')
              AND x.indrelid = ANY(%s)""", ([fk["conrelid"] for fk in fks],))
        for fk in fks:
            n = len(fk["conkey"])
            fk["covered"] = any(i["indrelid"] == fk["conrelid"] and sorted(i["keys"][: min(n, i["nkey"])]) ==
                                sorted(fk["conkey"]) for i in idx)
        return [fk for fk in fks if not fk["covered"]]

    def evaluate(self, data: list[dict[str, Any]], env: Env) -> list[Finding]:
        out = []
        for fk in data:
            table = qualified(fk["schema"], fk["table"])
            parent = qualified(fk["parent_schema"], fk["parent"])
            cols = list(fk["columns"])
            rows = fk.get("child_rows") or 0
            severity = "warning" if rows >= env.thresholds.fk_table_warn_rows else "info"
            action = ON_DELETE.get(fk.get("confdeltype") or "a", "NO ACTION")
            where = " AND ".join(f"{c} = $1" for c in cols)
            message = (f"foreign key {fk['conname']} ({table}.{', '.join(cols)} -> {parent}) has no index on "
                       f"{table}({', '.join(cols)}): each delete from {parent} (ON DELETE {action}) looks for "
                       f"its rows in {table} with a sequential scan of {human_count(rows)} rows "
                       f"({human_bytes(fk.get('child_bytes'))})")
            if fk.get("parent_deletes"):
                message += f"; {parent} has seen {human_count(fk['parent_deletes'])} deletes since the statistics reset"
            evidence = {"constraint": fk["conname"], "definition": fk.get("definition"), "on_delete": action,
                        "child_rows": int(rows), "child_size": human_bytes(fk.get("child_bytes")),
                        "parent_deletes": fk.get("parent_deletes"), "lookup": f"SELECT 1 FROM {table} WHERE {where}"}
            fix = index_fix(fk["table"], cols, prefix=fk["schema"],
                            comment=f"{fk['conname']}: deletes from {fk['parent']} look up {fk['table']} by "
                                    f"{', '.join(cols)}")
            out.append(self.finding(severity, f"{table}.{','.join(cols)}", message, evidence,
                                    HealthFix(ecto=fix.ecto, sql=fix.sql)))
        return out
