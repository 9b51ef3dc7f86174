"""The app bench/fleet.py serves with gunicorn: a FastAPI app reading a bundle by URL.

    /hard        a hardcoded string (the baseline)
    /prompt      reg.get + render + track (SQLite call log), the rendered text
    /render      reg.get + render, no call log
    /bare        the stable version's compiled templates rendered directly (Jinja only): the floor
    /which       the variant served for ?key= and the worker's pid
    /health      reg.health()

Configured by environment variables (set by bench/fleet.py): BENCH_BUNDLE_URL,
BENCH_CACHE_DIR, BENCH_CALL_LOG, BENCH_REFRESH.
"""

from __future__ import annotations

import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

import promptctl
from promptctl.render_limits import render_bounded

from fleet import INPUTS


CALL_LOG = os.environ["BENCH_CALL_LOG"]
reg = promptctl.Registry.from_bundle(os.environ["BENCH_BUNDLE_URL"], env="production",
                                     refresh_interval=float(os.environ.get("BENCH_REFRESH", "1.0")),
                                     cache_dir=os.environ["BENCH_CACHE_DIR"],
                                     # "discard": the logger's thread and queue, no sink work
                                     call_log=(lambda batch: None) if CALL_LOG.endswith("discard")
                                     else CALL_LOG)
HARD = reg.get("bench-chat", key="warm").render(**INPUTS)[1]["content"]   # same size as /prompt
app = FastAPI()


@app.get("/hard")
async def hard(key: str = "anonymous") -> PlainTextResponse:   # the same query parsing as /prompt
    return PlainTextResponse(HARD)


@app.get("/prompt")
async def prompt(key: str = "anonymous") -> PlainTextResponse:
    p = reg.get("bench-chat", key=key)
    with reg.track(p) as call:
        messages = p.render(**INPUTS)
        call.record(tokens_in=12, tokens_out=30)
    return PlainTextResponse(messages[1]["content"])


@app.get("/render")
async def render(key: str = "anonymous") -> PlainTextResponse:   # get + render, no call log
    return PlainTextResponse(reg.get("bench-chat", key=key).render(**INPUTS)[1]["content"])


BARE = [template for _, template in reg.get("bench-chat", key="warm")._compiled._plain]
BARE_INPUTS = {"language": "en", **INPUTS}


@app.get("/bare")
async def bare(key: str = "anonymous") -> PlainTextResponse:   # Jinja alone: what render costs at least
    return PlainTextResponse([render_bounded(t, BARE_INPUTS) for t in BARE][1])


@app.get("/which")
async def which(key: str = "anonymous") -> PlainTextResponse:
    return PlainTextResponse(f"{reg.get('bench-chat', key=key).variant} {os.getpid()}")


@app.get("/health")
async def health() -> JSONResponse:
    report = reg.health()
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

if os.environ.get("BENCH_GC_FREEZE"):   # --gc-freeze: what gunicorn --preload apps often do
    import gc

    gc.freeze()
