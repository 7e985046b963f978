"""mshared: the contract library every m* tool shares (errors and exit codes, JSON I/O, contracts and schemas, states, the state file, its journal and lock, study directories, status rows)."""
