"""`python -m mextend`: the console script `mextend` (mshared.entrypoints)."""

from mshared.entrypoints import mextend

if __name__ == "__main__":
    mextend()
