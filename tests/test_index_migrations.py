"""The advisor's Ecto migrations: complete modules that Ecto would run as the very index printed."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tools.ecto.migration import CreateIndex, parse_migration
from tools.ecto.migration_sql import migration_sql
from tools.errors import InputError
from tools.indexes.candidates import IndexDef
from tools.indexes.migrations import (
    camelize,
    migration_module,
    migration_name,
    repo_module,
    timestamps,
    write_migrations,
)

CASES = [
    IndexDef("events", ("account_id", "occurred_at")),
    IndexDef("orders", ("placed_at",), where="status = 'pending'"),
    IndexDef("orders", ("customer_id",), include=("total_cents",)),
    IndexDef("users", ("lower(email)",)),
    IndexDef("events", ("account_id", "kind", "occurred_at DESC")),
    IndexDef("events", ("account_id",), schema="audit"),
    IndexDef("posts", ("published_at",), where="deleted_at IS NULL AND NOT draft", include=("id", "title")),
]


@pytest.mark.parametrize("idx", CASES, ids=lambda i: i.label())
def test_the_module_builds_exactly_the_printed_index_concurrently_and_safely(idx):
    text = migration_module(idx, repo="Pulse.Repo", comments=["Serves the feed."])
    migration = parse_migration(text)
    assert migration.disable_ddl_transaction and migration.disable_migration_lock
    (op,) = migration.change.ops
    assert isinstance(op, CreateIndex) and op.index.opts["concurrently"] is True
    (stmt,) = migration_sql(migration, "up")
    assert stmt.sql.replace('"', "") == idx.sql().rstrip(";").replace('"', "")
    assert text.startswith(f"defmodule Pulse.Repo.Migrations.{camelize(migration_name(idx))} do\n")
    assert "    # Serves the feed.\n" in text


def test_a_taken_default_name_goes_to_ecto_as_name():
    idx = IndexDef("invoices", ("customer_id",), include=("amount_cents",))
    name = "invoices_customer_id_include_amount_cents_index"
    text = migration_module(idx, name=name)
    (stmt,) = migration_sql(parse_migration(text), "up")
    assert stmt.sql.replace('"', "") == idx.sql(name=name).rstrip(";")
    assert "defmodule MyApp.Repo.Migrations.CreateInvoicesCustomerIdIncludeAmountCentsIndex do" in text


def test_names_follow_ecto():
    idx = IndexDef("users", ("lower(email)",))
    assert idx.name == "users_lower_email_index"
    assert migration_name(idx) == "create_users_lower_email_index"
    assert camelize("create_users_lower_email_index") == "CreateUsersLowerEmailIndex"


def test_the_repo_module_comes_from_the_projects_migrations(tmp_path):
    assert repo_module(None) == "MyApp.Repo"
    assert repo_module(tmp_path) == "MyApp.Repo"
    folder = tmp_path / "priv" / "repo" / "migrations"
    folder.mkdir(parents=True)
    for n in range(2):
        (folder / f"2024010100000{n}_m{n}.exs").write_text(
            f"defmodule Helpdesk.Repo.Migrations.M{n} do\n  use Ecto.Migration\nend\n")
    assert repo_module(tmp_path) == "Helpdesk.Repo"


def test_timestamps_are_utc_one_second_apart_and_after_every_existing_migration(tmp_path):
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert timestamps(2, now=now) == ["20250301120000", "20250301120001"]
    (tmp_path / "20300101000000_future.exs").write_text("")
    assert timestamps(1, [tmp_path], now=now) == ["20300101000001"]


def test_write_migrations_names_files_like_ecto(tmp_path):
    idx = IndexDef("events", ("account_id", "occurred_at"))
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
    (path,) = write_migrations([(migration_name(idx), migration_module(idx))], tmp_path / "out", now=now)
    assert path.name == "20250301120000_create_events_account_id_occurred_at_index.exs"
    assert parse_migration(path.read_text()).disable_migration_lock
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(InputError, match="not a directory"):
        write_migrations([(idx.name, "x")], blocker)


def test_a_redundant_index_is_dropped_concurrently_and_reversibly():
    from tools.ecto.migration import DropIndex
    from tools.indexes.catalog import ExistingIndex
    from tools.indexes.migrations import drop_migration_module

    old = ExistingIndex("shipments_carrier_id_index", ("carrier_id",), (), None, False, False, False, True,
                        "btree", 0, 0)
    text = drop_migration_module("shipments", old, repo="Dispatch.Repo")
    migration = parse_migration(text)
    assert migration.disable_ddl_transaction and migration.disable_migration_lock
    (op,) = migration.change.ops
    assert isinstance(op, DropIndex) and op.index.opts["concurrently"] is True
    assert [s.sql for s in migration_sql(migration, "up")] == ['DROP INDEX CONCURRENTLY "shipments_carrier_id_index"']
    (down,) = migration_sql(migration, "down")
    assert down.sql == 'CREATE INDEX CONCURRENTLY "shipments_carrier_id_index" ON "shipments" ("carrier_id")'
    assert text.startswith("defmodule Dispatch.Repo.Migrations.DropShipmentsCarrierIdIndex do")
