"""mshared: the library every m* tool shares (contracts, JSON I/O, errors, state file, schedulers)."""
