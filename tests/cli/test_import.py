"""`promptctl import` on dotprompt and Prompty files written for these tests: frontmatter
becomes prompt.yaml, Handlebars becomes Jinja, tools and the output schema come along, and
whatever cannot be converted is listed (and kept as a comment), never dropped."""

from __future__ import annotations

import yaml

from support.cli import invoke
from support.repos import repo_state
from promptctl.services.project import load_version, open_project
from promptctl.services.prompts import render_text

DOTPROMPT = """\
---
model: anthropic/claude-3-5-haiku-20241022
config: {temperature: 0.3, maxOutputTokens: 400}
input:
  schema:
    location: string, where the story happens
    style?: string
    items(array): string
  default:
    location: a restaurant
output:
  format: json
  schema:
    title: string
    hitPoints: integer
tools:
  - name: lookup
    description: Look something up
    parameters: {type: object, properties: {q: {type: string}}}
  - searchWeb
---
{{role "system"}}
You tell short stories.{{! a note for authors }}
{{role "user"}}
Tell a story set in {{location}}.
{{#if style}}Use a {{style}} style.{{else}}Any style.{{/if}}
{{#each items}}- {{this}} ({{@index}})
{{/each}}
{{media url=photoUrl}}
{{> footer}}
"""

PROMPTY = """\
---
name: Support Answer
description: Answers with context
model:
  api: chat
  configuration: {type: azure_openai, azure_deployment: gpt-4o-mini}
  parameters: {max_tokens: 300}
sample:
  firstName: Seth
  question: What do you sell?
  items: [tent, boots]
---
system:
You are an assistant helping {{firstName}}.
{% for item in items %}- {{ item }}
{% endfor %}

user:
{{question}}
"""


def test_dotprompt_becomes_a_checked_chat_prompt_with_tools_and_schema(prompt_repo, tmp_path):
    source = tmp_path / "story.prompt"
    source.write_text(DOTPROMPT)
    result = invoke(prompt_repo, "import", str(source))
    assert result.exit_code == 0, result.output
    assert "+ prompts/story/prompt.yaml" in result.stdout
    # what could not be converted is listed with its line, not dropped
    assert "line 29: '{{media url=photoUrl}}'" in result.output
    assert "line 30: '{{> footer}}' (a Handlebars partial" in result.output
    assert "tool 'searchWeb' is only a name" in result.output
    spec = yaml.safe_load((prompt_repo / "prompts/story/prompt.yaml").read_text())
    assert spec["model"] == {"provider": "anthropic", "name": "claude-3-5-haiku-20241022",
                             "params": {"temperature": 0.3, "max_tokens": 400}}
    assert spec["inputs"]["location"] == {"type": "string", "description": "where the story happens",
                                          "default": "a restaurant"}
    assert spec["inputs"]["style"] == {"type": "string", "required": False}
    assert spec["inputs"]["items"] == {"type": "list"}
    assert spec["output"]["schema"]["properties"]["hitPoints"] == {"type": "integer"}
    assert [t["name"] for t in spec["tools"]] == ["lookup"]
    assert [m["role"] for m in spec["messages"]] == ["system", "user"]
    assert "{# unconverted: {{media url=photoUrl}} #}" in spec["messages"][1]["content"]
    assert invoke(prompt_repo, "check", "story").exit_code == 0
    content = load_version(open_project(prompt_repo), "story", None)
    text = render_text(content, "working", {"items": ["a key", "a map"], "style": "noir"})
    assert "Tell a story set in a restaurant." in text and "Use a noir style." in text
    assert "- a key (0)\n- a map (1)" in text


def test_prompty_becomes_a_chat_prompt_with_its_jinja_kept(prompt_repo, tmp_path):
    source = tmp_path / "support.prompty"
    source.write_text(PROMPTY)
    result = invoke(prompt_repo, "import", str(source))
    assert result.exit_code == 0, result.output
    spec = yaml.safe_load((prompt_repo / "prompts/support-answer/prompt.yaml").read_text())
    assert spec["model"] == {"provider": "openai", "name": "gpt-4o-mini", "params": {"max_tokens": 300}}
    assert spec["inputs"] == {"firstName": {"type": "string"}, "question": {"type": "string"},
                              "items": {"type": "list"}}
    assert [m["role"] for m in spec["messages"]] == ["system", "user"]
    assert invoke(prompt_repo, "check", "support-answer").exit_code == 0
    text = render_text(load_version(open_project(prompt_repo), "support-answer", None), "working",
                       {"firstName": "Ada", "question": "Hi?", "items": ["tent"]})
    assert text == "[system]\nYou are an assistant helping Ada.\n- tent\n\n[user]\nHi?\n\n"


def test_import_refuses_other_files_and_clashes_writing_nothing(prompt_repo, tmp_path):
    before = repo_state(prompt_repo)
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    bad = invoke(prompt_repo, "import", str(other))
    assert bad.exit_code == 2 and "not a .prompt (dotprompt) or .prompty" in bad.output
    clash = tmp_path / "triage.prompt"
    clash.write_text("Hello {{name}}\n")
    ok = tmp_path / "fresh.prompt"
    ok.write_text("Hello {{name}}\n")
    refused = invoke(prompt_repo, "import", str(ok), str(clash))
    assert refused.exit_code == 2 and "prompts/triage already exists" in refused.output
    assert repo_state(prompt_repo) == before          # all or nothing
