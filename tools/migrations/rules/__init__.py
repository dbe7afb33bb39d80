"""The migration rule catalogue: one rule per module, each documented like a ruff rule.

Order is the catalogue's: what can take production down first, style last. `rule_ids()` and
`EXCELLENT_MIGRATIONS` are what suppression comments and the config file may name.
"""

from __future__ import annotations

from typing import Any

from tools.migrations.rules.base import Context, Example, Finding, Rule, Settings
from tools.migrations.rules.blocking_maintenance import BlockingMaintenance
from tools.migrations.rules.check_constraint_validated import CheckConstraintValidated
from tools.migrations.rules.column_type_change import ColumnTypeChange
from tools.migrations.rules.concurrent_index_in_transaction import ConcurrentIndexInTransaction
from tools.migrations.rules.concurrent_index_migration_lock import ConcurrentIndexMigrationLock
from tools.migrations.rules.concurrent_index_not_alone import ConcurrentIndexNotAlone
from tools.migrations.rules.data_change_in_schema_migration import DataChangeInSchemaMigration
from tools.migrations.rules.drop_index_not_concurrent import DropIndexNotConcurrent
from tools.migrations.rules.drop_table import DropTable
from tools.migrations.rules.enum_value_change import EnumValueChange
from tools.migrations.rules.exclusion_constraint import ExclusionConstraint
from tools.migrations.rules.foreign_key_validated import ForeignKeyValidated
from tools.migrations.rules.foreign_key_without_index import ForeignKeyWithoutIndex
from tools.migrations.rules.identifier_too_long import IdentifierTooLong
from tools.migrations.rules.index_not_concurrent import IndexNotConcurrent
from tools.migrations.rules.json_column import JsonColumn
from tools.migrations.rules.many_columns_index import ManyColumnsIndex
from tools.migrations.rules.missing_lock_timeout import MissingLockTimeout
from tools.migrations.rules.modify_null_or_default import ModifyNullOrDefault
from tools.migrations.rules.not_null_column_without_default import NotNullColumnWithoutDefault
from tools.migrations.rules.prefer_identity import PreferIdentity
from tools.migrations.rules.prefer_text import PreferText
from tools.migrations.rules.prefer_timestamptz import PreferTimestamptz
from tools.migrations.rules.primary_key_type_change import PrimaryKeyTypeChange
from tools.migrations.rules.primary_key_without_index import PrimaryKeyWithoutIndex
from tools.migrations.rules.remove_column import RemoveColumn
from tools.migrations.rules.rename_column import RenameColumn
from tools.migrations.rules.rename_table import RenameTable
from tools.migrations.rules.set_not_null import SetNotNull
from tools.migrations.rules.stored_generated_column import StoredGeneratedColumn
from tools.migrations.rules.transaction_control import TransactionControl
from tools.migrations.rules.unanalysed_sql import UnanalysedSql
from tools.migrations.rules.unbatched_backfill import UnbatchedBackfill
from tools.migrations.rules.unique_constraint_without_index import UniqueConstraint
from tools.migrations.rules.validate_in_same_transaction import ValidateInSameTransaction
from tools.migrations.rules.volatile_default import VolatileDefault

RULES: list[Rule] = [
    IndexNotConcurrent(),
    ConcurrentIndexInTransaction(),
    ConcurrentIndexMigrationLock(),
    ConcurrentIndexNotAlone(),
    DropIndexNotConcurrent(),
    ForeignKeyValidated(),
    CheckConstraintValidated(),
    ValidateInSameTransaction(),
    UniqueConstraint(),
    PrimaryKeyWithoutIndex(),
    ExclusionConstraint(),
    VolatileDefault(),
    StoredGeneratedColumn(),
    NotNullColumnWithoutDefault(),
    ColumnTypeChange(),
    PrimaryKeyTypeChange(),
    ModifyNullOrDefault(),
    SetNotNull(),
    RenameColumn(),
    RenameTable(),
    RemoveColumn(),
    DropTable(),
    EnumValueChange(),
    UnbatchedBackfill(),
    DataChangeInSchemaMigration(),
    BlockingMaintenance(),
    TransactionControl(),
    JsonColumn(),
    IdentifierTooLong(),
    ForeignKeyWithoutIndex(),
    MissingLockTimeout(),
    ManyColumnsIndex(),
    UnanalysedSql(),
    PreferTimestamptz(),
    PreferIdentity(),
    PreferText(),
]

# excellent_migrations check name -> our rule ids, for its suppression comments and skip_checks
EXCELLENT_MIGRATIONS: dict[str, list[str]] = {}
for _r in RULES:
    for _name in _r.excellent_migrations:
        EXCELLENT_MIGRATIONS.setdefault(_name, []).append(_r.id)
# excellent_migrations reports these two for `add … default:` and `fragment` defaults; they map
# to volatile-default above. Its `raw_sql_executed` maps to unanalysed-sql: readable SQL is
# checked by the real rules instead.

__all__ = ["RULES", "EXCELLENT_MIGRATIONS", "Context", "Example", "Finding", "Rule", "Settings",
           "catalogue", "rule", "rule_ids"]


def rule_ids() -> list[str]:
    return [r.id for r in RULES]


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(rule_id)


def catalogue() -> list[dict[str, Any]]:
    return [r.doc() for r in RULES]
