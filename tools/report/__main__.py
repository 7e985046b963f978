"""`python -m mreport`: the console script `mreport` (mshared.entrypoints)."""

from mshared.entrypoints import mreport

if __name__ == "__main__":
    mreport()
