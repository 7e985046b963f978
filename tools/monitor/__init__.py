"""mmonitor: one monitoring pass over a study. The core is mmonitor.core.monitor_study."""
