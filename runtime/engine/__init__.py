"""The study engine shared by msubmit, mmonitor and the maestro wrapper: graph, transitions, passes."""
