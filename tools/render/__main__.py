"""`python -m mrender`: the console script `mrender` (mshared.entrypoints)."""

from mshared.entrypoints import mrender

if __name__ == "__main__":
    mrender()
