"""Expand YAML text with mexpand's pure core, for unit tests."""

import textwrap

from mexpand.core import expand
from mexpand.specload import load_yaml


def expand_text(text: str, *, hashws: bool = False, cwd: str = "/work", pgen=None):
    text = textwrap.dedent(text)
    spec = load_yaml(text, "spec.yaml")
    return expand(spec, source="spec.yaml", spec_text=text, spec_path="/specs/spec.yaml",
                  specroot="/specs", cwd=cwd, hashws=hashws, pgen=pgen)


def by_id(dag: dict) -> dict:
    return {step["id"]: step for step in dag["steps"]}


HELLO_BYE = """
description: {name: hello_bye_world, description: says hello and bye}
env:
  variables: {OUTPUT_PATH: ./sample_output/hello_world}
  labels: {OUT_FORMAT: $(GREETING)_$(NAME).txt}
study:
  - name: hello_world
    description: Say hello
    run: {cmd: 'echo "$(GREETING), $(NAME)!" > $(OUT_FORMAT)'}
  - name: bye_world
    description: Say bye
    run: {cmd: 'echo "Bye, World!" > bye.txt', depends: [hello_world]}
global.parameters:
  NAME: {values: [Pam, Jim, Michael, Dwight], label: NAME.%%}
  GREETING: {values: [Hello, Ciao, Hey, Hi], label: GREETING.%%}
"""
