"""The shipped schemas are valid JSON Schema, and the files promptctl writes or ships pass them.

Checked with check-jsonschema, the validator pre-commit and CI users already run.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.cli import run_cli
from promptctl import file_schemas

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = PROJECT / "src/promptctl/schemas"


def check_jsonschema(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("check-jsonschema is not installed (pip install -e '.[test]')")
    return subprocess.run([exe, *args], capture_output=True, text=True)


def assert_valid(schema: Path, files: list[Path]) -> None:
    assert files, f"nothing to check against {schema.name}"
    result = check_jsonschema("--schemafile", str(schema), *map(str, files))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_shipped_schema_passes_the_metaschema():
    paths = [SHIPPED / file_schemas.file_name(kind) for kind in file_schemas.KINDS]
    result = check_jsonschema("--check-metaschema", *map(str, paths))
    assert result.returncode == 0, result.stdout + result.stderr


def repo_files(root: Path) -> dict[str, list[Path]]:
    return {"prompt": sorted(root.glob("prompts/**/prompt.yaml")),
            "suite": sorted(root.glob("evals/**/suite.yaml")),
            "manifest": [root / "release.yaml"], "config": [root / "promptctl.yaml"]}


@pytest.mark.parametrize("kind", file_schemas.KINDS)
def test_this_repos_example_files_pass(kind):
    assert_valid(SHIPPED / file_schemas.file_name(kind), repo_files(PROJECT)[kind])


def test_files_init_and_new_write_pass_the_schemas_they_point_at(tmp_path):
    root = tmp_path / "repo"
    run_cli("init", str(root), cwd=tmp_path, check=True)
    run_cli("new", "team/faq", "--text", cwd=root, check=True)
    run_cli("new", "team/reply", "--from", "support-reply", cwd=root, check=True)  # one level deeper
    for kind, paths in repo_files(root).items():
        for path in paths:
            first = path.read_text().splitlines()[0]
            target = (path.parent / first.split("$schema=", 1)[1]).resolve()
            assert target == (root / ".schemas" / file_schemas.file_name(kind)).resolve(), first
        assert_valid(root / ".schemas" / file_schemas.file_name(kind), paths)
    assert run_cli("check", cwd=root).returncode == 0


def test_a_broken_file_fails_with_the_field_named(tmp_path):
    bad = tmp_path / "prompt.yaml"
    bad.write_text("name: x\nmodel: {name: m}\ntemplate: hi\ninputs: {q: {type: text}}\n")
    result = check_jsonschema("--schemafile", str(SHIPPED / "prompt.schema.json"), str(bad))
    assert result.returncode == 1 and "$.inputs.q" in result.stdout


@pytest.mark.parametrize("kind", file_schemas.KINDS)
def test_schema_command_prints_the_shipped_schema(kind, tmp_path):
    result = run_cli("schema", kind, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads((SHIPPED / file_schemas.file_name(kind)).read_text())


def test_schema_write_refreshes_a_repos_schemas_from_any_folder(tmp_path):
    root = tmp_path / "repo"
    run_cli("init", str(root), cwd=tmp_path, check=True)
    stale = root / ".schemas/prompt.schema.json"
    stale.write_text("{}")
    result = run_cli("schema", "write", cwd=root / "prompts/support-reply")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (root / ".schemas").iterdir()) == sorted(
        file_schemas.file_name(k) for k in file_schemas.KINDS)
    assert json.loads(stale.read_text()) == json.loads(file_schemas.shipped_text("prompt"))
    assert not (root / "prompts/support-reply/.schemas").exists()


def test_tools_placeholders_and_parts_pass_the_prompt_schema(tmp_path):
    from support.tools import make_agent_repo

    root = make_agent_repo(tmp_path / "r")
    prompt = root / "prompts/agent/prompt.yaml"
    wire = tmp_path / "wire.yaml"   # the OpenAI wire form of an image part is accepted too
    wire.write_text(prompt.read_text().replace('image_url: "{{ photo }}"',
                                               'image_url: {url: "{{ photo }}", detail: low}'))
    assert_valid(SHIPPED / "prompt.schema.json", [prompt, wire])
    bad = tmp_path / "bad.yaml"
    bad.write_text(prompt.read_text().replace("  - placeholder: history\n",
                                              "  - role: tool\n    content: done\n"))
    result = check_jsonschema("--schemafile", str(SHIPPED / "prompt.schema.json"), str(bad))
    assert result.returncode == 1 and "tool_call_id" in result.stdout
