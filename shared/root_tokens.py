"""Tokens that depend on where a study lands, resolved by mrender (and by tests that compare with Maestro).

mexpand leaves $(OUTPUT_PATH), $(WORKSPACE) and $(<step>.workspace) literal in the DAG; each step
carries ``workspace`` and ``workspace_refs`` (step name -> workspace, relative to the study root).
"""

import os


def step_paths(step: dict, study_root: str) -> tuple[str, dict[str, str]]:
    """Absolute workspace of ``step`` and of every step it references."""
    workspace = os.path.join(study_root, step["workspace"])
    refs = {name: os.path.join(study_root, rel) for name, rel in step.get("workspace_refs", {}).items()}
    return workspace, refs


def resolve_root_tokens(text: str | None, step: dict, study_root: str) -> str | None:
    """Replace $(OUTPUT_PATH), $(<ref>.workspace) and $(WORKSPACE) in ``text`` for ``step``."""
    if not text or "$(" not in text:
        return text
    workspace, refs = step_paths(step, study_root)
    text = text.replace("$(OUTPUT_PATH)", study_root)
    for name, path in refs.items():
        text = text.replace(f"$({name}.workspace)", path)
    return text.replace("$(WORKSPACE)", workspace)
