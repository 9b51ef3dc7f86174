"""Validation messages a newcomer reads: the offending value quoted, the choices named, the
nearest spelling suggested, the real line, and every problem of a prompt at once."""

import pytest

from support.cli import invoke
from support.repos import chat_prompt, repo_state

CHAT = chat_prompt("triage")


def write_prompt(repo, text, name="triage"):
    (repo / f"prompts/{name}/prompt.yaml").write_text(text)


def check_lines(repo, name="triage"):
    result = invoke(repo, "check", name)
    assert result.exit_code == 1, result.output
    assert "Input should" not in result.output and "Value error" not in result.output
    return result.output


@pytest.mark.parametrize("old,new,expected", [
    ("role: system", "role: wizard",
     "prompt.yaml:6: messages.0.role: 'wizard' is not a role (use system, developer, user, assistant, tool)"),
    ("role: user", "role: asistant",
     "messages.1.role: 'asistant' is not a role (did you mean 'assistant'? use system, developer, user, assistant, tool)"),
    ("ticket: string", "ticket: strng",
     "prompt.yaml:4: inputs.ticket.type: 'strng' is not an input type (did you mean 'string'?"),
    ("inputs:", "output: {format: yaml}\ninputs:",
     "prompt.yaml:3: output.format: 'yaml' is not an output format (use text, json)"),
    ("model: {provider: echo, name: echo-1}", "model: {provider: echo, name: echo-1, parms: {}}",
     "prompt.yaml:2: model.parms: unknown field 'parms' (did you mean 'params'?)"),
    ("inputs:", "descripton: x\ninputs:",
     "prompt.yaml:3: descripton: unknown field 'descripton' (did you mean 'description'?)"),
    ("name: triage", "name: 5",
     "prompt.yaml:1: name: 5 is not a string"),
])
def test_prompt_schema_errors_quote_the_value_and_name_the_choices(prompt_repo, old, new, expected):
    write_prompt(prompt_repo, CHAT.replace(old, new, 1))
    assert expected in check_lines(prompt_repo)


def test_suite_enum_fields_and_gates_suggest_spellings(prompt_repo):
    (prompt_repo / "evals/support-refund/suite.yaml").write_text(
        "dataset: cases.jsonl\nmetrics:\n  - {type: containz, value: x}\n"
        "  - {name: tone, type: exact, direction: up}\ngates:\n  - tones >= 1\n")
    out = check_lines(prompt_repo, "support-refund")
    assert ("metrics.0.type: 'containz' is not a scorer type (did you mean 'contains'? use "
            in out)
    assert "metrics.1.direction: 'up' is not a direction (use higher, lower)" in out
    # the schema error does not hide the gate naming a misspelled metric
    assert "gates.0: unknown metric 'tones' (did you mean 'tone'?" in out


def test_a_jinja_error_is_reported_at_the_templates_real_line(prompt_repo):
    text = CHAT.replace('    content: "Ticket: {{ ticket }}"',
                        "    content: |\n      Ticket:\n      {{ ticket }\n")
    write_prompt(prompt_repo, text)
    out = check_lines(prompt_repo)
    assert "prompts/triage/prompt.yaml:11: messages.1.content: template syntax: unexpected '}'" in out


def test_a_jinja_error_in_a_template_file_names_that_file_and_line(prompt_repo):
    (prompt_repo / "prompts/triage/system.j2").write_text("Label tickets.\n\n{% if x %}\n")
    out = check_lines(prompt_repo)
    assert "prompts/triage/system.j2:3: template syntax:" in out


def test_check_reports_every_problem_of_a_prompt_not_the_first(prompt_repo):
    text = (CHAT.replace("role: system", "role: wizard")
            .replace("inputs:", "modle: x\ninputs:")
            .replace("{{ ticket }}", "{{ ticket }"))
    write_prompt(prompt_repo, text)
    before = repo_state(prompt_repo)
    out = check_lines(prompt_repo)
    assert "'wizard' is not a role" in out
    assert "unknown field 'modle' (did you mean 'model'?)" in out
    assert "prompt.yaml:10: messages.1.content: template syntax" in out
    assert "3 problem(s)" in out
    assert repo_state(prompt_repo) == before


def test_eval_suggests_the_prompt_name(prompt_repo):
    result = invoke(prompt_repo, "eval", "suport-refund")
    assert result.exit_code == 2
    assert "prompt 'suport-refund' not found (did you mean 'support-refund'?)" in result.output
    result = invoke(prompt_repo, "eval", "suport-refund@1.0")
    assert "did you mean 'support-refund'?" in result.output
    assert invoke(prompt_repo, "show", "triag").output.count("did you mean 'triage'?") == 1


@pytest.mark.parametrize("given,suggested", [("1.0", "1.0.0"), ("1", "1.0.0"), ("2", "2.0.0"),
                                             ("1.1", "1.1.0"), ("1.0.1", "1.0.0")])
def test_eval_suggests_the_full_version(deploy_repo, given, suggested):
    result = invoke(deploy_repo, "eval", f"support-refund@{given}")
    assert result.exit_code == 2, result.output
    assert f"support-refund has no release {given} (did you mean {suggested}?)" in result.output


def test_a_git_revision_still_evaluates_without_a_suggestion(deploy_repo):
    result = invoke(deploy_repo, "diff", "support-refund", "HEAD~1")
    assert result.exit_code == 0, result.output
    assert "did you mean" not in result.output


def test_check_reports_every_bad_dataset_line_and_accepts_flat_rows(prompt_repo):
    rows = ['{"question": "Where is my order?", "expected": "shipping"}',
            '{"questoin": "typo"}', '{oops', '{"question": "fine", "id": "ok"}']
    (prompt_repo / "evals/support-refund/cases.jsonl").write_text("\n".join(rows) + "\n")
    out = check_lines(prompt_repo, "support-refund")
    assert ("evals/support-refund/cases.jsonl:2: questoin: 'questoin' is not an input of the "
            "prompt (did you mean 'question'?") in out
    assert "evals/support-refund/cases.jsonl:3: invalid JSON" in out
    assert "2 problem(s)" in out
    (prompt_repo / "evals/support-refund/cases.jsonl").write_text(rows[0] + "\n" + rows[3] + "\n")
    assert invoke(prompt_repo, "check", "support-refund").exit_code == 0
