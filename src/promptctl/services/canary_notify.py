"""The canary controller's webhook: which URL to notify, the event posted, and URLs
redacted for messages (hooks carry their secret in the URL)."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from ..errors import WebhookError
from .project import Project

if TYPE_CHECKING:
    from .canary import Analysis


def webhook_url(project: Project, override: str | None = None) -> str | None:
    """The webhook to notify, checked before any decision is applied (a typo must not turn
    a committed rollback into an error)."""
    from ..canary.policy import check_webhook
    from ..config import canary_settings

    if override:
        return check_webhook(override, "--webhook")
    return canary_settings(project.config).webhook   # checked when promptctl.yaml was loaded


def event(analysis: Analysis) -> dict:
    """The JSON body posted to the webhook on advance, promote and rollback."""
    t, d = analysis.target, analysis.decision
    return {"event": d.action.value, "prompt": t.name, "env": t.env, "segment": t.segment,
            "stable": t.stable, "canary": t.version, "from_weight": d.current_weight,
            "to_weight": d.weight, "reasons": list(d.reasons), "summary": d.summary(),
            "metrics": [{"name": m.name, "verdict": m.verdict.value, "stable": m.stable,
                         "canary": m.canary, "reason": m.reason, "observe": m.observe,
                         "interval": None if m.difference is None else
                         [m.difference.low, m.difference.high]} for m in d.metrics],
            "srm": None if d.srm is None else d.srm.as_dict(),
            "time": time.time()}


def notify(url: str, body: dict, *, timeout: float = 10.0) -> None:
    """POST the event; a failing webhook is an external-service error (exit 3)."""
    import httpx
    try:
        httpx.post(url, json=body, timeout=timeout).raise_for_status()
    except httpx.HTTPError as exc:
        safe = redact_url(url)
        detail = redact_url(str(exc).replace(url, safe))
        raise WebhookError(f"webhook {safe} failed: {detail}") from None


_SECRET_SEGMENT = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{16,}$")
_URL = re.compile(r"https?://[^\s'\"<>]+")


def redact_url(text: str) -> str:
    """Every URL in `text` without its credentials: user:password, query values, and path
    segments that look like tokens (Slack and Discord hooks carry the secret in the path)."""
    from urllib.parse import urlsplit, urlunsplit

    def one(match: re.Match) -> str:
        try:
            parts = urlsplit(match[0])
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            return "<url redacted>"
        netloc = ("***@" if parts.username or parts.password else "") + host + port
        path = "/".join("***" if _SECRET_SEGMENT.match(seg) else seg for seg in parts.path.split("/"))
        query = "&".join(f"{kv.split('=', 1)[0]}=***" for kv in parts.query.split("&") if kv)
        return urlunsplit((parts.scheme, netloc, path, query, ""))
    return _URL.sub(one, text)
