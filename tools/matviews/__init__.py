"""Materialized views for repeated expensive aggregations: which ones, the view and its unique
index, the Ecto schema and query over it, and how often to refresh it."""
