"""The runtime: the engine that runs a study's passes, the scheduler units and their scripts."""
