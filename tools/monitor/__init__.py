"""mmonitor: one monitoring pass over a study. The core is mmonitor.core (monitor_study, monitor_loop, request_cancel, request_rerun)."""
