"""suite.yaml validation and dataset parsing: field-level errors with file and line."""

from __future__ import annotations

import pytest

from promptctl.errors import ValidationError
from promptctl.evals.datasets import case_id, load_cases, parse_dataset
from promptctl.evals.suite import parse_suite

F = "evals/p/suite.yaml"


def problems(text: str) -> list[str]:
    with pytest.raises(ValidationError) as info:
        parse_suite(text, F)
    return [str(p) for p in info.value.problems]


def test_minimal_suite_has_defaults():
    suite = parse_suite("dataset: cases.jsonl\n", F)
    assert suite.datasets == ["cases.jsonl"]
    assert [m.name for m in suite.metrics] == ["exact"]
    assert (suite.repeat, suite.max_errors, suite.baseline.tolerance) == (1, 0, 0.02)


def test_metric_params_fold_and_names_default():
    suite = parse_suite("dataset: [a.jsonl, b.csv]\nmetrics:\n"
                        "  - {type: contains, value: refund}\n"
                        "  - {name: refusal_rate, type: refusal}\n"
                        "gates: ['contains >= 0.9', 'refusal_rate <= 0.02', 'error_rate <= 0']\n", F)
    contains, refusal = suite.metrics
    assert contains.name == "contains" and contains.params == {"value": "refund"}
    assert refusal.direction == "lower"
    assert [g.text for g in suite.parsed_gates()] == ["contains >= 0.9", "refusal_rate <= 0.02",
                                                       "error_rate <= 0"]


@pytest.mark.parametrize("text,expected", [
    ("dataset: c.jsonl\nrepeet: 2\n", "evals/p/suite.yaml:2: repeet: unknown field"),
    ("dataset: c.jsonl\nrepeat: 0\n", "evals/p/suite.yaml:2: repeat: 0 is out of range (must be >= 1)"),
    ("metrics: []\n", "evals/p/suite.yaml:1: dataset: required field is missing (add it)"),
    ("dataset: c.jsonl\ngates:\n  - accuracy >= 0.9\n",
     "evals/p/suite.yaml:3: gates.0: unknown metric 'accuracy'"),
    ("dataset: c.jsonl\ngates:\n  - exact about 0.9\n", "gates.0: gate 'exact about 0.9' is not"),
    ("dataset: c.jsonl\nmetrics:\n  - type: contans\n",
     "evals/p/suite.yaml:3: metrics.0.type: 'contans' is not a scorer type (did you mean 'contains'?"),
    ("dataset: c.jsonl\nmetrics:\n  - type: regex\n    patern: x\n",
     "metrics.0: scorer 'regex' has no param `patern`"),
    ("dataset: c.jsonl\nmetrics:\n  - type: exact\n  - type: exact\n", "used twice"),
    # Bad param values are input errors at load time, not a crash or a 0 on every case.
    ("dataset: c.jsonl\nmetrics:\n  - {type: regex, pattern: '(['}\n",
     "evals/p/suite.yaml:3: metrics.0: regex pattern '([' does not compile"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: refusal, patterns: ['a(']}\n", "does not compile"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: length, min: abc}\n", "length `min` must be a number"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: latency, max_ms: fast}\n", "`max_ms` must be a number"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: length, unit: lines}\n", "length `unit` is chars or words"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: contains, value: x, mode: some}\n", "`mode` is all or any"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: json_schema, schema: [1]}\n", "`schema` must be a mapping"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: llm_judge, rubric: r, scale: [5, 1]}\n",
     "`scale` must be [low, high]"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: exact, weight: -1}\n", "metrics.0.weight:"),
    ("dataset: c.jsonl\nmetrics:\n  - {type: exact, threshold: 2}\n", "metrics.0.threshold:"),
    ("dataset: c.jsonl\nmetrics: []\n", "metrics: give at least one metric"),
])
def test_bad_suites_name_file_line_and_field(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)


def test_dataset_formats_agree():
    jsonl = '{"id": "a", "inputs": {"q": "hi"}, "expected": "x", "tags": ["t"]}\n\n'
    csv = "id,q,expected,tags\na,hi,x,t\n"
    yaml = "- id: a\n  inputs: {q: hi}\n  expected: x\n  tags: [t]\n"
    cases = [parse_dataset(jsonl, "c.jsonl"), parse_dataset(csv, "c.csv"),
             parse_dataset(yaml, "c.yaml")]
    assert cases[0] == cases[1] == cases[2]
    assert cases[0][0].inputs == {"q": "hi"} and cases[0][0].tags == ("t",)


def test_ids_are_stable_and_derived_from_inputs():
    one = parse_dataset('{"inputs": {"a": 1, "b": 2}}\n', "c.jsonl")[0]
    two = parse_dataset('{"inputs": {"b": 2, "a": 1}}\n', "c.jsonl")[0]
    assert one.id == two.id == case_id({"a": 1, "b": 2}) and len(one.id) == 12


@pytest.mark.parametrize("text,file,expected", [
    ('{"inputs": {}}\n{"inputs": \n', "c.jsonl", "c.jsonl:2: invalid JSON"),
    ('{"input": {"q": 1}}\n', "c.jsonl", "'input' is not an input of the prompt (did you mean 'inputs'?"),
    ("- inputs: [1]\n", "c.yaml", "c.yaml:1: inputs: must be a mapping"),
    ("a: 1\n", "c.yaml", "expected a list of cases"),
])
def test_bad_datasets(text, file, expected):
    with pytest.raises(ValidationError) as info:
        parse_dataset(text, file, {"q"})
    assert expected in str(info.value)


def test_duplicate_ids_and_missing_files():
    files = {"a.jsonl": '{"id": "x", "inputs": {}}\n', "b.jsonl": '{"id": "x", "inputs": {}}\n'}
    with pytest.raises(ValidationError, match=r"case id 'x' appears twice \(evals/p/a.jsonl:1 "
                                              r"and evals/p/b.jsonl:1\)"):
        load_cases(files.get, ["a.jsonl", "b.jsonl"], F)
    cases, digest = load_cases(files.get, ["a.jsonl"], F)
    assert len(cases) == 1 and digest.startswith("sha256:")
    with pytest.raises(Exception, match="dataset 'nope.jsonl' not found"):
        load_cases(files.get, ["nope.jsonl"], F)


def test_a_byte_order_mark_from_a_spreadsheet_export_is_ignored():
    csv = "\ufeffid,q,expected\r\na,hi,x\r\n"
    jsonl = '\ufeff{"id": "a", "inputs": {"q": "hi"}, "expected": "x"}\r\n'
    assert parse_dataset(csv, "c.csv") == parse_dataset(jsonl, "c.jsonl")
    assert parse_dataset(csv, "c.csv")[0].id == "a" and parse_dataset(csv, "c.csv")[0].inputs == {"q": "hi"}


@pytest.mark.parametrize("file,text", [
    ("c.jsonl", '{"message": "hi", "expected": "greeting", "id": "a", "tags": ["x"]}\n'
                '{"message": "bye", "expected": "farewell"}\n'),
    ("c.yaml", "- {message: hi, expected: greeting, id: a, tags: [x]}\n"
               "- {message: bye, expected: farewell}\n"),
    ("c.csv", "id,message,expected,tags\na,hi,greeting,x\n,bye,farewell,\n"),
])
def test_flat_rows_are_cases_in_every_format(file, text):
    cases = parse_dataset(text, file, {"message"})
    assert [(c.inputs, c.expected) for c in cases] == [({"message": "hi"}, "greeting"),
                                                       ({"message": "bye"}, "farewell")]
    assert cases[0].id == "a" and cases[0].tags == ("x",)


def test_every_bad_line_is_reported_at_once_up_to_a_limit():
    lines = ['{"message": "ok"}', "{not json", '{"mesage": "typo"}', "[1]"]
    with pytest.raises(ValidationError) as info:
        parse_dataset("\n".join(lines) + "\n", "c.jsonl", {"message"})
    found = [str(p) for p in info.value.problems]
    assert found[0] == "c.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes"
    assert found[1].startswith("c.jsonl:3: mesage: 'mesage' is not an input of the prompt "
                               "(did you mean 'message'?")
    assert found[2].startswith("c.jsonl:4: a case must be a mapping")
    many = "\n".join(["{bad"] * 50) + "\n"
    with pytest.raises(ValidationError) as info:
        parse_dataset(many, "c.jsonl", {"message"})
    problems = [str(p) for p in info.value.problems]
    assert len(problems) == 21 and problems[-1] == "c.jsonl: ... and 30 more bad line(s)"
    assert problems[19].startswith("c.jsonl:20:")
