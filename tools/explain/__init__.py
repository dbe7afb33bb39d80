"""The `explain` tool: run a query's plan safely, read it, and say what to fix."""
