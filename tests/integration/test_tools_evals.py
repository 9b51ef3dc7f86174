"""Evals of a tool-using, multi-turn prompt: tool-call replies are outputs, scored by
tool_call and json_field, with history through the placeholder and image URLs from the dataset."""

from __future__ import annotations

import json

import pytest

from support.cli import run_cli
from support.llm import FakeLLM, calls_tool
from support.tools import answer_last_order, make_agent_repo
from promptctl.errors import ValidationError
from promptctl.evals import report as render
from promptctl.services.evaluate import EvalOptions, evaluate
from promptctl.services.project import open_project


@pytest.fixture
def server():
    with FakeLLM(reply=answer_last_order) as fake:
        yield fake


def test_openai_eval_scores_tool_calls_and_sends_history_images_and_tools(tmp_path, server):
    root = make_agent_repo(tmp_path / "r", "openai", server.url)
    report = evaluate(open_project(root), "agent", EvalOptions(no_cache=True))
    run = report.runs[0]
    assert run.passed, [(c.id, c.error, c.reasons) for c in run.cases]
    case = run.cases[0]
    assert case.output == "" and case.tool_calls == [
        {"id": "call_0", "name": "lookup_order", "arguments": {"order_id": "B-2"}}]
    assert run.summary["metrics"]["called"]["mean"] == 1.0
    assert run.summary["metrics"]["order"]["mean"] == 1.0
    body = next(r["body"] for r in server.requests if "B-2" in json.dumps(r["body"]))
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "tool", "user", "user"]
    assert body["messages"][3] == {"role": "tool", "tool_call_id": "call_9",
                                   "content": "{\"status\": \"in transit\"}"}
    assert body["messages"][5]["content"][1] == {"type": "image_url",
                                                  "image_url": {"url": "https://img.example/B-2.png"}}
    assert body["tools"][0]["function"]["description"] == "Look up an order placed at Acme."
    assert body["tool_choice"] == "auto"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert "config" not in body and "retrieval_k" not in json.dumps(body)
    data = json.loads(render.to_json(report))
    assert data["runs"][0]["cases"][0]["tool_calls"][0]["name"] == "lookup_order"


def test_anthropic_eval_with_a_forced_tool(tmp_path, server):
    root = make_agent_repo(tmp_path / "r", "anthropic", server.url, tool_choice="lookup_order")
    run = evaluate(open_project(root), "agent", EvalOptions(no_cache=True)).runs[0]
    assert run.passed, [(c.id, c.error, c.reasons) for c in run.cases]
    body = next(r["body"] for r in server.requests if "B-2" in json.dumps(r["body"]))
    assert body["tool_choice"] == {"type": "tool", "name": "lookup_order"}
    assert body["system"] == "You are the assistant of Acme."
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user", "user"][:len(body["messages"])]
    assert body["messages"][-1]["content"][-1] == {
        "type": "image", "source": {"type": "url", "url": "https://img.example/B-2.png"}}


def test_a_wrong_tool_or_bad_arguments_fail_with_reasons_shown_in_reports(tmp_path):
    with FakeLLM(reply=calls_tool("refund", {"amount": "ten"})) as fake:
        root = make_agent_repo(tmp_path / "r", "openai", fake.url)
        report = evaluate(open_project(root), "agent", EvalOptions(no_cache=True))
    case = report.runs[0].cases[0]
    assert not report.passed and case.error is None
    assert case.scores["called"] == 0.0 and "called 'refund', expected 'lookup_order'" in case.reasons["called"]
    assert case.reasons["order"] == "no $.order_id"
    assert '-&gt; refund({"amount": "ten"})' in render.to_junit(report)
    assert "-&gt; refund(" in render.to_html(report)


def test_tool_call_scorer_checks_arguments_against_the_tool_schema(tmp_path):
    with FakeLLM(reply=calls_tool("lookup_order", {"order_id": 17})) as fake:
        root = make_agent_repo(tmp_path / "r", "openai", fake.url)
        case = evaluate(open_project(root), "agent", EvalOptions(no_cache=True)).runs[0].cases[0]
    assert case.reasons["called"] == "lookup_order: $.order_id: expected string, got int"


def test_cached_tool_call_replies_keep_their_calls(tmp_path, server):
    root = make_agent_repo(tmp_path / "r", "openai", server.url)
    first = evaluate(open_project(root), "agent", EvalOptions()).runs[0]
    again = evaluate(open_project(root), "agent", EvalOptions()).runs[0]
    assert len(server.requests) == 3
    assert all(c.cached for c in again.cases)
    assert [c.tool_calls for c in again.cases] == [c.tool_calls for c in first.cases]
    assert again.passed


def test_azure_settings_build_the_deployment_url(tmp_path, server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "az")
    root = make_agent_repo(tmp_path / "r", "openai")
    (root / "promptctl.yaml").write_text(
        "providers:\n  openai:\n    retries: 0\n    azure: {endpoint: '" + server.url + "/', "
        "deployment: gpt-4o, api_version: 2024-10-21}\n")
    run = evaluate(open_project(root), "agent", EvalOptions(no_cache=True)).runs[0]
    assert run.passed
    assert server.requests[0]["path"] == "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21"


def test_incomplete_azure_settings_are_one_line_errors(tmp_path):
    root = make_agent_repo(tmp_path / "r", "openai")
    (root / "promptctl.yaml").write_text(
        "providers:\n  openai:\n    azure: {endpoint: 'https://x.openai.azure.com', deployment: d}\n")
    with pytest.raises(ValidationError, match=r"promptctl.yaml:3: providers.openai.azure.api_version: "):
        evaluate(open_project(root), "agent", EvalOptions(no_cache=True))


def test_a_history_item_without_a_role_is_refused_before_any_call(tmp_path, server):
    root = make_agent_repo(tmp_path / "r", "openai", server.url)
    good = json.dumps({"id": "ok", "inputs": {"shop": "Acme"}, "expected": "lookup_order"})
    (root / "evals/agent/cases.jsonl").write_text(good + "\n" + json.dumps(
        {"id": "bad", "inputs": {"shop": "Acme", "history": [{"content": "hi"}]},
         "expected": "lookup_order"}) + "\n")
    with pytest.raises(ValidationError) as info:
        evaluate(open_project(root), "agent", EvalOptions(no_cache=True))
    assert info.value.one_line() == ("evals/agent/cases.jsonl:2: inputs.history: case 'bad': "
                                     "history[0].role: missing (each message needs a role)")
    assert not server.requests


def test_a_csv_dataset_holds_history_as_json_and_image_urls_as_columns(tmp_path, server):
    import csv
    import io

    from support.tools import cases

    root = make_agent_repo(tmp_path / "r", "openai", server.url)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "shop", "history", "photo", "expected"])
    for case in cases():
        writer.writerow([case["id"], "Acme", json.dumps(case["inputs"]["history"]),
                         case["inputs"]["photo"], json.dumps(case["expected"])])
    (root / "evals/agent/cases.csv").write_text(out.getvalue())
    (root / "evals/agent/suite.yaml").write_text((root / "evals/agent/suite.yaml").read_text()
                                                 .replace("cases.jsonl", "cases.csv"))
    run = evaluate(open_project(root), "agent", EvalOptions(no_cache=True)).runs[0]
    assert run.passed, [(c.id, c.error, c.reasons) for c in run.cases]
    urls = {r["body"]["messages"][-1]["content"][1]["image_url"]["url"] for r in server.requests}
    assert urls == {"https://img.example/B-2.png", "https://img.example/C-3.png",
                    "https://img.example/D-4.png"}


def test_cli_check_and_eval_of_the_agent(tmp_path, server):
    root = make_agent_repo(tmp_path / "r", "openai", server.url)
    assert run_cli("check", cwd=root).returncode == 0
    result = run_cli("eval", "agent", "--format", "json", "--no-cache", cwd=root)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["runs"][0]["cases"][2]["tool_calls"][0]["arguments"] == {"order_id": "D-4"}
    shown = run_cli("show", "agent", cwd=root).stdout
    assert "tools: lookup_order, refund (tool_choice: auto)" in shown and "output: json, with a schema, strict" in shown
    text = (root / "prompts/agent/prompt.yaml").read_text()
    (root / "prompts/agent/prompt.yaml").write_text(text.replace("- placeholder: history",
                                                                 "- placeholder: chat"))
    bad = run_cli("check", cwd=root)
    assert bad.returncode == 1
    assert "prompts/agent/prompt.yaml:" in bad.stdout + bad.stderr
    assert "messages.1.placeholder: 'chat' is not a declared input" in bad.stdout + bad.stderr
