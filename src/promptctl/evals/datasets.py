"""Golden datasets: JSONL, CSV or a YAML list of cases, read into `Case`s with stable ids."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import posixpath
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFoundError, Problem, ValidationError

CASE_KEYS = {"id", "inputs", "expected", "tags", "metadata"}
MAX_PROBLEMS = 20   # a broken export reports this many bad lines at once, not thousands


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    inputs: dict[str, Any]
    expected: Any = None
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    # Where the case was read ("file:line"), for messages; not part of the case's identity.
    source: str = field(default="", compare=False)


def case_id(inputs: dict[str, Any]) -> str:
    """An id that stays the same while the inputs do, whatever the file order."""
    blob = json.dumps(inputs, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def dataset_digest(texts: list[str]) -> str:
    outer = hashlib.sha256()
    for text in texts:
        outer.update(hashlib.sha256(text.encode("utf-8")).digest())
    return "sha256:" + outer.hexdigest()


def parse_dataset(text: str, file: str, declared: set[str] | None = None) -> list[Case]:
    """The cases of one file; every bad line is reported at once (up to MAX_PROBLEMS).

    A row is `{inputs: {...}, expected, id, tags, metadata}` or flat, `{message: ..,
    expected: ..}`: then every other key is an input, and must be one of `declared` (the
    prompt's inputs) when they are known."""
    text = text.removeprefix("\ufeff")   # spreadsheet exports start with a byte-order mark
    lower = file.lower()
    problems: list[Problem] = []
    if lower.endswith((".jsonl", ".ndjson")):
        rows = _jsonl(text, file, problems)
    elif lower.endswith(".csv"):
        rows = _csv(text, file)
    elif lower.endswith((".yaml", ".yml", ".json")):
        rows = _yaml(text, file)
    else:
        raise ValidationError(f"unsupported dataset format {file!r}", file=file,
                              fix="use .jsonl, .csv or .yaml")
    cases = []
    for line, row in rows:
        try:
            cases.append(_case(row, file, line, declared))
        except ValidationError as exc:
            problems += exc.problems
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise ValidationError(problems=_capped(problems, file))
    return cases


def _capped(problems: list[Problem], file: str) -> list[Problem]:
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    return [*problems[:MAX_PROBLEMS], Problem(file, f"... and {rest} more bad line(s)")]


def _jsonl(text: str, file: str, problems: list[Problem]) -> list[tuple[int, Any]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, _json_row(line, file, number)))
        except ValidationError as exc:
            problems += exc.problems
    return rows


def _json_row(line: str, file: str, number: int) -> Any:
    """One JSONL row; a broken or absurdly nested one is a one-line error at its line."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValidationError(problems=[Problem(file, f"invalid JSON: {exc.msg}", line=number)]) from exc
    except RecursionError as exc:
        raise ValidationError(problems=[Problem(file, "JSON nested too deeply (flatten the "
                                                      "case)", line=number)]) from exc


def _csv(text: str, file: str) -> list[tuple[int, Any]]:
    # Columns: id, expected, tags (';'-separated), metadata.* and inputs; `inputs.x` or bare `x`.
    _check_csv_shape(text, file)
    rows = []
    for number, record in enumerate(csv.DictReader(io.StringIO(text)), 2):
        row: dict[str, Any] = {"inputs": {}, "metadata": {}}
        for key, value in record.items():
            if key is None:
                continue
            if key in ("id", "expected"):
                row[key] = value
            elif key == "tags":
                row["tags"] = [t.strip() for t in (value or "").split(";") if t.strip()]
            elif key.startswith("metadata."):
                row["metadata"][key[9:]] = value
            else:
                row["inputs"][key.removeprefix("inputs.")] = value
        rows.append((number, row))
    return rows


def _check_csv_shape(text: str, file: str) -> None:
    """A shifted or duplicated column would silently feed one input's value to another."""
    def bad(message: str, line: int) -> ValidationError:
        return ValidationError(problems=[Problem(file, message, line=line)])

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip() for h in header]
        for name in names:
            if not name:
                raise bad("a column has an empty header (name every column)", 1)
            if names.count(name) > 1:
                raise bad(f"column {name!r} appears twice in the header (rename one)", 1)
        for row in reader:
            if row and len(row) != len(header):
                raise bad(f"row has {len(row)} fields but the header has {len(header)} (quote "
                          "values holding commas)", reader.line_num)
    except csv.Error as exc:
        raise bad(f"invalid CSV: {exc}", reader.line_num) from exc


def _yaml(text: str, file: str) -> list[tuple[int, Any]]:
    from ..safeyaml import load_yaml
    from ..yamlfile import key_lines

    data = load_yaml(text, file)
    prefix: tuple[str, ...] = ()
    if isinstance(data, dict) and "cases" in data:
        data, prefix = data["cases"], ("cases",)
    if not isinstance(data, list):
        raise ValidationError(problems=[Problem(file, "expected a list of cases", line=1)])
    lines = key_lines(text)
    return [(lines.get((*prefix, i)) or 0, row) for i, row in enumerate(data)]


def _case(row: Any, file: str, line: int, declared: set[str] | None = None) -> Case:
    def bad(message: str, field_name: str | None = None) -> ValidationError:
        return ValidationError(problems=[Problem(file, message, line=line or None, field=field_name)])

    if not isinstance(row, dict):
        raise bad("a case must be a mapping: {inputs: {...}, expected: ...} or flat "
                  "{<input>: ..., expected: ...}")
    if "inputs" in row:
        extra = sorted(set(row) - CASE_KEYS)
        if extra:
            raise bad(f"unknown field {extra[0]!r} (a case has id, inputs, expected, "
                      "tags, metadata)", extra[0])
        inputs = row.get("inputs", {})
    else:
        inputs = {k: v for k, v in row.items() if k not in CASE_KEYS}
        unknown = sorted(set(inputs) - declared) if declared is not None else []
        if unknown and declared is not None:
            raise bad(_not_an_input(unknown[0], declared), unknown[0])
    if not isinstance(inputs, dict):
        raise bad("must be a mapping of the prompt's variables", "inputs")
    tags = row.get("tags") or []
    if isinstance(tags, str):
        tags = [tags]
    metadata = row.get("metadata") or {}
    ident = row.get("id")
    return Case(id=str(ident) if ident not in (None, "") else case_id(inputs), inputs=inputs,
                # interned: 100,000 cases share a handful of tag names, not a string each
                expected=row.get("expected"), tags=tuple(sys.intern(str(t)) for t in tags),
                metadata=metadata if isinstance(metadata, dict) else {"value": metadata},
                source=f"{file}:{line}" if line else file)


def _not_an_input(key: str, declared: set[str]) -> str:
    from ..wording import did_you_mean
    guess = did_you_mean(key, [*declared, *CASE_KEYS])
    hint = f"did you mean {guess!r}? " if guess else ""
    names = ", ".join(sorted(declared)) or "none"
    return (f"{key!r} is not an input of the prompt ({hint}inputs: {names}; a flat case also "
            "takes id, expected, tags, metadata)")


def load_cases(read, paths: list[str], suite_file: str,
               declared: set[str] | None = None) -> tuple[Sequence[Case], str]:
    """Read every dataset file via `read(path) -> text | None`; ids must be unique.
    `declared` are the prompt's inputs, which flat rows are checked against.

    A single JSONL dataset stays text: its cases are parsed when used (JsonlCases), so
    100,000 of them cost the file's size in memory, not a few hundred bytes each.
    """
    texts, files = [], []
    for path in paths:
        text = read(path)
        if text is None:
            raise NotFoundError(f"dataset {path!r} not found", file=suite_file, field="dataset",
                                fix="paths are relative to the suite's folder")
        texts.append(text)
        # errors name the file from the repo root, as every other finding does
        files.append(posixpath.join(posixpath.dirname(suite_file), path))
    if len(files) == 1 and files[0].lower().endswith((".jsonl", ".ndjson")):
        cases: Sequence[Case] = JsonlCases(texts[0], files[0], declared)
    else:
        cases = [case for text, file in zip(texts, files, strict=True)
                 for case in parse_dataset(text, file, declared)]
    seen: dict[str, str] = {}
    for case in cases:
        if case.id in seen:
            raise ValidationError(f"case id {case.id!r} appears twice ({seen[case.id]} "
                                  f"and {case.source})", file=suite_file,
                                  field="dataset", fix="give each case a unique `id`")
        seen[case.id] = case.source
    return cases, dataset_digest(texts)


class JsonlCases(Sequence):
    """The cases of one JSONL file, each parsed from its line when read.

    Every line is parsed once here, so bad lines are reported (all of them, up to
    MAX_PROBLEMS) before any case runs.
    """

    def __init__(self, text: str, file: str, declared: set[str] | None = None) -> None:
        self._text = text.removeprefix("\ufeff")
        self._file, self._declared = file, declared
        self._starts, self._numbers = array("q"), array("q")
        problems: list[Problem] = []
        text, pos, number = self._text, 0, 0
        while pos < len(text):
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            number += 1
            if text[pos:end].strip():
                self._starts.append(pos)
                self._numbers.append(number)
                try:
                    self._parse(len(self._starts) - 1)    # validate now; keep only the offset
                except ValidationError as exc:
                    problems += exc.problems
            pos = end + 1
        if problems:
            raise ValidationError(problems=_capped(problems, file))

    def __len__(self) -> int:
        return len(self._starts)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._parse(i) for i in range(*index.indices(len(self)))]
        return self._parse(range(len(self))[index])

    def __iter__(self):
        return (self._parse(i) for i in range(len(self)))

    def _parse(self, i: int) -> Case:
        start = self._starts[i]
        end = self._text.find("\n", start)
        line = self._text[start:end if end >= 0 else len(self._text)]
        number = self._numbers[i]
        return _case(_json_row(line, self._file, number), self._file, number, self._declared)


def input_problems(cases: Sequence[Case], inputs: dict[str, Any]) -> list[Problem]:
    """Cases that lack a required input of the prompt's contract, or whose conversation
    (a `messages` input) is malformed: each would fail to render."""
    from ..render import check_messages

    required = [name for name, spec in inputs.items() if spec.required]
    conversations = [name for name, spec in inputs.items() if spec.type == "messages"]
    problems = []
    for case in cases:
        where, _, number = case.source.rpartition(":")
        file, line = (where, int(number)) if number.isdigit() else (case.source, None)
        missing = [name for name in required if name not in case.inputs]
        if missing:
            problems.append(Problem(file, f"case {case.id!r} has no input {missing[0]!r} "
                                    f"(the prompt requires {', '.join(required)})",
                                    line=line, field="inputs"))
        for name in conversations:
            try:
                check_messages(case.inputs.get(name))
            except ValueError as exc:
                problems.append(Problem(file, f"case {case.id!r}: {name}{exc}", line=line,
                                        field=f"inputs.{name}"))
    return problems
