"""What the tests share, by what it stands for.

- `repos`: real prompt repos on disk and the git commands that build them
- `releases`: releases made the way `bump` makes them, a project, a seeded canary
- `clones`: a bare origin and clones of it (a team in miniature)
- `cli`: the real `promptctl`, in-process (CliRunner) and as a subprocess
- `llm`: a loopback model API speaking the OpenAI and Anthropic protocols
- `http`: loopback servers: static files (bundles), JSON receivers (webhooks, metrics)
- `fleet`: app processes reading a published bundle
- `traffic`: calls written to the call log, as a running app writes them
- `tools`: a tool-using, multi-turn agent prompt and its suite
- `shells`, `browser`: a real shell through a pty, headless Chromium

`conftest.py` keeps only the fixtures and hooks.
"""
