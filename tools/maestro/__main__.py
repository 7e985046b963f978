"""`python -m maestro_cli`: the console script `maestro` (mshared.entrypoints)."""

from mshared.entrypoints import maestro

if __name__ == "__main__":
    maestro()
