"""mrender: a study directory (workspaces, scheduler scripts, state.json) from a DAG. The core is mrender.core (write_study, target_root, render)."""
