"""Keep secrets out of everything we print, log, record or hand to a subprocess.

Passwords in database URLs, API keys and Authorization headers are the secrets we meet; each
leaves through one of these functions before it can reach output, transcripts or recordings.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, Mapping
from urllib.parse import urlsplit

MASK = "***"

# Environment variables whose whole value is a secret: never printed.
SECRET_ENV_NAMES = re.compile(r"(API_KEY|AUTH_TOKEN|PASSWORD|SECRET|PGPASSWORD)", re.I)
# Kept from subprocesses the model runs too: a connection URL may carry a password, and a shell
# that can reach the database with the user's credentials could write to it. Only its password
# is a secret in output, so the rest of the URL stays readable in transcripts.
SCRUBBED_ENV_NAMES = re.compile(SECRET_ENV_NAMES.pattern[:-1] + r"|DATABASE_URL)", re.I)

# The lookbehind starts a scheme only where one can begin; without it a long run of letters
# (a 100 kB tool output) makes the match quadratic.
_URL_PASSWORD = re.compile(r"(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@", re.I)
_KEY_VALUE_PASSWORD = re.compile(r"(?P<k>\bpassword\s*=\s*)(?P<q>['\"]?)(?P<pw>[^'\"\s]+)(?P=q)", re.I)
_ANTHROPIC_KEY = re.compile(r"sk-ant-[A-Za-z0-9_-]{8,}")
# The key may be quoted, as in a JSON or Python dump of request headers: {"Authorization": "Bearer …"}.
_AUTH_HEADER = re.compile(
    r"(?P<k>\b(?:authorization|x-api-key)['\"]?\s*[:=]\s*['\"]?)(?P<v>[^\s,'\"}]+(?:\s+[^\s,'\"}]+)?)", re.I)
# A bearer token on its own, away from any header name (a copied curl line, a log excerpt).
_BEARER = re.compile(r"\b(?P<k>Bearer\s+)(?P<v>[A-Za-z0-9._~+/=-]{8,})")


def redact_url(url: str | None) -> str | None:
    """The URL with its password masked (user and host stay: they help the user)."""
    if url is None:
        return None
    return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def url_password(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def redact_text(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Mask known secret values and anything shaped like a URL password, API key or auth header."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _KEY_VALUE_PASSWORD.sub(lambda m: f"{m['k']}{m['q']}{MASK}{m['q']}", text)
    text = _ANTHROPIC_KEY.sub(MASK, text)
    text = _AUTH_HEADER.sub(lambda m: f"{m['k']}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['k']}{MASK}", text)
    return text


def secret_values(env: Mapping[str, str] | None = None) -> list[str]:
    """Values in the environment that must never be shown: keys, tokens, URL passwords."""
    env = os.environ if env is None else env
    values = [v for k, v in env.items() if SECRET_ENV_NAMES.search(k) and v]
    values += [pw for v in env.values() if (pw := url_password(v) if "://" in v else None)]
    return values


def scrub_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment without secrets, for subprocesses the model can run."""
    env = os.environ if env is None else env
    return {k: v for k, v in env.items() if not SCRUBBED_ENV_NAMES.search(k)}
