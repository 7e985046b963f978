"""pgen: one parameter set per CSV row, like Maestro's batched_demo_pgen.py.

pargs: CSV (required; path relative to the spec's directory), NROWS (rows to take, default all),
START (first row, default 0), INDEX (name of an id column that is not a parameter).
Column names become parameter keys in upper case, labelled KEY.%%.
"""

import csv
import os

from maestrowf.datastructures.core import ParameterGenerator


def get_custom_generator(env, **kwargs):
    specroot = kwargs["SPECROOT"]
    # Maestro passes SPECROOT as a Variable object, not a string.
    specroot = str(getattr(specroot, "value", specroot))
    path = os.path.join(specroot, kwargs["CSV"].strip())
    nrows = int(kwargs.get("NROWS", "-1").strip())
    start = int(kwargs.get("START", "0").strip())
    index = kwargs.get("INDEX", "").strip()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        columns = reader.fieldnames or []
    rows = rows[start:] if nrows < 0 else rows[start:start + nrows]
    p_gen = ParameterGenerator()
    for column in columns:
        if index and column == index:
            continue
        key = column.strip().upper()
        p_gen.add_parameter(key, [row[column].strip() for row in rows], f"{key}.%%")
    return p_gen
