"""mexpand: Maestro study spec -> JSON DAG. The core is mexpand.core (expand_file, expand)."""
