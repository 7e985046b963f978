"""mrender: a study directory (workspaces, scheduler scripts, state.json) from a DAG."""
