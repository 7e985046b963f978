"""maestro: Maestro's command line (run, status, cancel, update, conductor, rerun) over the m* tools."""
