"""Model providers for evals: one async `complete` per call, chosen by name."""

from __future__ import annotations

from .base import Provider, ProviderSettings, Request, Response, make_provider

__all__ = ["Provider", "ProviderSettings", "Request", "Response", "make_provider"]
