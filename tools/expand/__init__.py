"""mexpand: Maestro study spec -> JSON DAG. The core is mexpand.core.expand."""
