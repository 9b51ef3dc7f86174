"""Tab completion in real interactive bash and zsh (through a pseudo-terminal) and in fish:
`eval NAME@<Tab>` must survive bash's word breaks at `@`."""

from __future__ import annotations

import pytest

from support.shells import complete_line, fish_complete, make_demo, missing_shell


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo(tmp_path_factory.mktemp("completion") / "demo")


def needs(shell: str) -> None:
    reason = missing_shell(shell)
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_version_after_the_at_sign_completes_in_place(shell, demo):
    needs(shell)
    assert complete_line(shell, "promptctl eval support-reply@1.0", demo) == \
        "promptctl eval support-reply@1.0.0"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_prompt_name_completes_after_eval(shell, demo):
    needs(shell)
    assert complete_line(shell, "promptctl eval supp", demo) == "promptctl eval support-reply"


def test_bash_completes_a_version_of_show_after_the_at_sign(demo):
    needs("bash")
    assert complete_line("bash", "promptctl show support-reply@1.1", demo) == \
        "promptctl show support-reply@1.1.0"


def test_fish_offers_every_version_after_the_at_sign(demo):
    needs("fish")
    assert sorted(fish_complete("promptctl eval support-reply@", demo)) == [
        "support-reply@1.0.0", "support-reply@1.1.0", "support-reply@working"]
    assert fish_complete("promptctl eval sup", demo) == ["support-reply"]
