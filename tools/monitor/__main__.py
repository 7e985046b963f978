"""`python -m mmonitor`: the console script `mmonitor` (mshared.entrypoints)."""

from mshared.entrypoints import mmonitor

if __name__ == "__main__":
    mmonitor()
