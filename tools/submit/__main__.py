"""`python -m msubmit`: the console script `msubmit` (mshared.entrypoints)."""

from mshared.entrypoints import msubmit

if __name__ == "__main__":
    msubmit()
