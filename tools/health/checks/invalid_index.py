"""invalid-index."""

from __future__ import annotations

from tools.health.catalog import IndexInfo, indexes, rebuild_index_fix
from tools.health.model import Env, Example, Finding, HealthCheck, human_bytes


class InvalidIndex(HealthCheck):
    """Fires on every index with `NOT indisvalid`, except one a CREATE INDEX CONCURRENTLY is
    building right now (pg_stat_progress_create_index names it), as PgHero does.

    An invalid index is what a failed CREATE INDEX CONCURRENTLY leaves behind (a deadlock, a
    cancelled migration, duplicate values for a unique index). Ecto's migrator records nothing,
    so `mix ecto.migrate` will not retry it: the schema the code expects is not there.
    """

    id = "invalid-index"
    title = "Invalid index left by a failed concurrent build"
    what = "An index PostgreSQL marked INVALID: it is never used for reads."
    why = ("The planner ignores it, so the queries it was built for still run without it; yet every "
           "write still maintains it (and a unique one still rejects duplicates).")
    threshold = "Any (PgHero invalid indexes, pg-index-health invalid indexes)."
    fix = ("Drop it and build it again concurrently, in a migration with @disable_ddl_transaction and "
           "@disable_migration_lock; for a unique index, remove the duplicate rows first.")
    examples = [
        Example(
            fires=True, object="users_email_index", severity="error",
            setup="""
                CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
                INSERT INTO users (email) VALUES ('a@example.com'), ('a@example.com'), ('b@example.com');
            """,
            failing=("CREATE UNIQUE INDEX CONCURRENTLY users_email_index ON users (email)",),
            fix_has=("drop_if_exists index(:users, [:email], unique: true, concurrently: true)",
                     "create index(:users, [:email], unique: true, concurrently: true)",
                     "@disable_ddl_transaction true", "GROUP BY"),
        ),
        Example(
            fires=False,
            setup="""
                CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL);
                CREATE UNIQUE INDEX CONCURRENTLY users_email_index ON users (email);
            """,
        ),
    ]

    def collect(self, db) -> list[IndexInfo]:
        building = db.try_rows("SELECT index_relid FROM pg_stat_progress_create_index",
                               what="which indexes are being built right now") or []
        in_flight = {r["index_relid"] for r in building}
        return [i for i in indexes(db, "NOT x.indisvalid") if i.oid not in in_flight]

    def evaluate(self, data: list[IndexInfo], env: Env) -> list[Finding]:
        out = []
        for idx in data:
            fix = rebuild_index_fix(idx, comment=f"{idx.name} was left INVALID by a failed concurrent build")
            message = (f"{idx.name} on {idx.qualified_table} is INVALID: queries cannot use it, "
                       f"but writes still maintain its {human_bytes(idx.bytes)}")
            if idx.unique:
                cols = ", ".join(idx.keys[: idx.nkey])
                message += "; as a unique index, its build most likely failed on duplicate values"
                fix.action = (f"find the duplicates first: SELECT {cols}, count(*) FROM {idx.qualified_table} "
                              f"GROUP BY {cols} HAVING count(*) > 1;")
            out.append(self.finding("error", idx.qualified_name, message,
                                    {"definition": idx.definition, "size": human_bytes(idx.bytes),
                                     "unique": idx.unique}, fix))
        return out
