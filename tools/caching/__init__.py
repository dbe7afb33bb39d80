"""Application-level caching advice: queries that run far more often than their tables change."""
