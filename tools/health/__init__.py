"""Database health: what pghero, pg-index-health and ecto_psql_extras check, with Ecto fixes.

One module per check under `checks/` (each documented: what, why, threshold and its source, the
fix), a read-only runner that works as a pg_monitor role and says what it could not read,
PGTune's formulas (`config.py`), Ecto pool sizing (`pool.py`) and `describe_table`.
"""
