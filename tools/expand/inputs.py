"""Declared input files of steps: the spec's top-level `reuse` block (ours; Maestro 1.2.1 ignores
unknown top-level blocks, so a spec with it still runs under Maestro).

    reuse:
      content: false            # optional: compare every input by content (default: size and mtime)
      inputs:
        sim: [mesh.dat, "params_$(X).txt", {path: big.h5, content: true}]

A step's inputs count in its content key (mrender.keys), so a changed input makes the step, and
everything below it, run again in a `--reuse` run.  Paths get the same substitutions as the
step's command (variables, dependencies, $(SPECROOT), the instance's parameters); relative ones
are taken from the directory mexpand ran in, as path dependencies are.  Inputs never decide which
parameters a step is expanded over: Maestro does not see them.
"""

import os

BLOCK = "reuse"
_ROOT_TOKENS = ("$(OUTPUT_PATH)", "$(WORKSPACE)", ".workspace)")


def check_block(block, step_names, fail) -> None:
    """Refuse a `reuse` block that is not as documented (one message per problem)."""
    if block is None:
        return
    if not isinstance(block, dict):
        fail("'reuse' must be a mapping with 'inputs' (step name: [files]) and optionally 'content'")
    for key in block:
        if key not in ("inputs", "content"):
            fail(f"Unrecognized key '{key}' found in reuse; allowed: inputs, content")
    if not isinstance(block.get("content", False), bool):
        fail("reuse.content must be true or false")
    inputs = block.get("inputs") or {}
    if not isinstance(inputs, dict):
        fail("reuse.inputs must be a mapping of step name: [files]")
    for name, files in inputs.items():
        if name not in step_names:
            fail(f"reuse.inputs names step '{name}', which is not a step of the study; steps are: "
                 f"{', '.join(step_names)}")
        if not isinstance(files, list) or not files:
            fail(f"reuse.inputs.{name} must be a non-empty list of files")
        for item in files:
            _check_item(item, f"reuse.inputs.{name}", fail)


def _check_item(item, here, fail) -> None:
    if isinstance(item, dict):
        for key in item:
            if key not in ("path", "content"):
                fail(f"Unrecognized key '{key}' found in {here}; allowed: path, content")
        if not isinstance(item.get("content", False), bool):
            fail(f"{here}: content must be true or false")
        item = item.get("path")
    if not isinstance(item, str) or not item.strip() or "\x00" in item:
        fail(f"{here}: every file must be a non-empty path, or {{path: ..., content: true}}")
    if any(token in item for token in _ROOT_TOKENS):
        fail(f"{here}: '{item}' is inside the study; what a parent step writes is already covered by "
             "the parent's key: declare only files from outside the study")


def declared(spec: dict, substitute) -> dict[str, list[tuple[str, bool]]]:
    """Step name -> [(path text with the env substituted, compare by content)]."""
    block = spec.get(BLOCK) or {}
    default = bool(block.get("content", False))
    out = {}
    for name, files in (block.get("inputs") or {}).items():
        items = []
        for item in files:
            path, content = (item["path"], item.get("content", default)) if isinstance(item, dict) else (item, default)
            items.append((substitute(path), bool(content)))
        out[name] = items
    return out


def resolve(instances: list[dict], cwd: str, source: str, error) -> None:
    """Turn each instance's input texts (parameters applied) into DAG entries
    {"path": absolute, "content": bool}; a token left over is an error naming the step."""
    for inst in instances:
        texts = inst.get("inputs")
        if not texts:
            continue
        entries = []
        for text, content in texts:
            if "$(" in text:
                raise error(f"{source}: step '{inst['id']}': input '{text}' still has a $(...) token; it may "
                            "use variables and the parameters the step uses")
            entries.append({"path": os.path.normpath(os.path.join(cwd, text)),
                            "content": content})
        inst["inputs"] = entries
