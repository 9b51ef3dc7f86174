"""How fast hostile input is refused, against loading an ordinary file in the same run.

Run: .venv/bin/python bench/hostile_inputs.py [--rounds 5]
Goal: every hostile YAML file and template is refused in well under a second (they hung
commands for minutes or ate gigabytes before the loader and render budgets).
Each figure is the median of interleaved rounds: wall and CPU time (getrusage), and the
ratio to the baseline (loading an ordinary prompt.yaml, or rendering an ordinary template).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from promptctl.errors import PromptctlError
from promptctl.model import Body
from promptctl.render import CompiledPrompt
from promptctl.safeyaml import load_yaml

PROMPT = ("name: support-refund\nmodel: {provider: openai, name: gpt-4o, params: {temperature: 0}}\n"
          "inputs:\n  question: string\ntemplate: |\n  Answer: {{ question }}\n")
LAUGHS = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True))
YAML = {"ordinary prompt.yaml (baseline)": PROMPT, "alias bomb (9^9 values)": LAUGHS,
        "5,000-deep list": "[" * 5000 + "]" * 5000, "10 MB file": "a: " + "x" * 10_000_000,
        "duplicate key": PROMPT + "model: {name: other}\n"}
TEMPLATES = {"ordinary template (baseline)": "Answer: {{ question }}",
             "'a' * 1000000000": "{{ 'a' * 1000000000 }}",
             "('a' * 1000000) | wordwrap(1)": "{{ ('a' * 1000000) | wordwrap(1) }}",
             "output of 10,000 x 1,000 loops": "{% for i in range(10000) %}{% for j in range(1000) %}"
                                               "{{ question }}{% endfor %}{% endfor %}"}


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed(action) -> tuple[float, float]:
    wall, used = time.perf_counter(), cpu()
    try:
        action()
    except PromptctlError:
        pass   # refusing is the point; the time to refuse is what is measured
    return time.perf_counter() - wall, cpu() - used


def measure(cases: dict, action, rounds: int) -> None:
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
    for _ in range(rounds):   # interleaved: machine noise hits every case alike
        for label, text in cases.items():
            samples[label].append(timed(lambda text=text: action(text)))
    base = None
    for label, runs in samples.items():
        wall = statistics.median(w for w, _ in runs)
        used = statistics.median(c for _, c in runs)
        base = base or wall
        print(f"  {label:<36} wall {wall * 1000:9.2f} ms  cpu {used * 1000:9.2f} ms  "
              f"x{wall / base:8.1f} baseline")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    print("YAML files (promptctl.safeyaml.load_yaml):")
    measure(YAML, lambda text: load_yaml(text, "prompt.yaml"), rounds)
    print("templates (CompiledPrompt.render):")
    measure(TEMPLATES, lambda source: CompiledPrompt("p@1", {"t": source}, (Body("text", "t"),), {})
            .render({"question": "where is my order?"}), rounds)


if __name__ == "__main__":
    main()
