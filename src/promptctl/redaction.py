"""Known secret values are replaced by `***` wherever promptctl writes text it was given.

A model or gateway may echo the API key (in a completion, an error body), and an app may
pass error text holding one to the call log. The values come from the environment: the
variables providers read keys from, and any whose name marks it a secret.
"""

from __future__ import annotations

import os
import re
from typing import Callable

MASK = "***"
_SECRET_NAME = re.compile(r"(API_KEY|APIKEY|_KEY|_TOKEN|_SECRET|PASSWORD)$")
_MIN_LENGTH = 8          # shorter values ("1", "true") would mangle ordinary text
_registered: set[str] = {"OPENAI_API_KEY", "ANTHROPIC_API_KEY"}


def register(env_var: str | None) -> None:
    """Treat the value of `env_var` as a secret (a provider's configured `api_key_env`)."""
    if env_var:
        _registered.add(env_var)


def secret_values() -> list[str]:
    names = _registered | {n for n in os.environ if _SECRET_NAME.search(n.upper())}
    values = {os.environ.get(n, "") for n in names}
    # longest first: a key that contains another is masked whole
    return sorted((v for v in values if len(v) >= _MIN_LENGTH), key=len, reverse=True)


def redact(text: str) -> str:
    return redactor()(text)


def redactor() -> Callable[[str], str]:
    """`redact` with the secret values read once (for a run that writes many results)."""
    values = secret_values()

    def apply(text: str) -> str:
        if not text:
            return text
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        return text
    return apply
