"""Errors are data: a layer that knows more raises a new error, the caught one stays as it was."""

import pytest

from promptctl import errors
from promptctl.errors import (Problem, PromptctlError, PublishError, UsageError, ValidationError,
                              WebhookError)


def _classes():
    found = [v for v in vars(errors).values()
             if isinstance(v, type) and issubclass(v, PromptctlError)]
    assert len(found) > 5
    return found


@pytest.mark.parametrize("cls", _classes(), ids=lambda c: c.__name__)
def test_every_error_class_declares_its_exit_code(cls):
    assert "exit_code" in vars(cls)
    assert cls.exit_code in (1, 2, 3)


def test_reworded_is_a_new_error_of_the_same_class_and_leaves_the_caught_one_alone():
    caught = UsageError("unknown provider 'nope'", field="provider", fix="use echo")
    again = caught.reworded(file="evals/x/suite.yaml", field="judge.provider")
    assert type(again) is UsageError and again is not caught
    assert again.one_line() == "evals/x/suite.yaml: judge.provider: unknown provider 'nope' (use echo)"
    assert str(again) == again.one_line()
    assert caught.one_line() == "provider: unknown provider 'nope' (use echo)"
    assert caught.file is None and caught.field == "provider"


def test_reworded_keeps_the_fields_a_subclass_declares():
    problems = [Problem("prompts/a/prompt.yaml", "bad", line=3, field="model")]
    moved = ValidationError(problems=problems).reworded(fix="see docs")
    assert moved.problems == problems and moved.message.startswith("prompts/a/prompt.yaml:3")
    published = PublishError("exited with status 1", field="command x").reworded(change="c1")
    assert published.change == "c1" and published.field == "command x"
    assert WebhookError("webhook failed").reworded(change="c2").exit_code == 3


def test_publish_and_webhook_failures_carry_the_committed_change_as_a_field():
    assert PublishError("x").change is None
    assert WebhookError("x", change="c").data()["change"] == "c"
