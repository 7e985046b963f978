"""`python -m mexpand`: the console script `mexpand` (mshared.entrypoints)."""

from mshared.entrypoints import mexpand

if __name__ == "__main__":
    mexpand()
