"""The one exception type that means "the user gave us something we cannot use".

Every entry point (CLI, agent tool call, MCP) turns it into one clear line (exit code 2 on the
CLI, an is_error result for a model) instead of a traceback.
"""


class InputError(Exception):
    """Bad input: a malformed plan, unparsable SQL, an unreachable database, a bad URL."""
