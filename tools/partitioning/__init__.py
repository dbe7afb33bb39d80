"""Partitioning advice: which large, append-mostly tables to partition and how, and for tables
already partitioned, why a query reads partitions it could have skipped."""
