"""The index advisor: candidates from the queries, validated with HypoPG, delivered as Ecto migrations."""
