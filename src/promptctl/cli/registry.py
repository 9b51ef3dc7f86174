"""Commands of the prompt registry: init, new, check, bump, diff, show, log, list, verify."""

from __future__ import annotations
