"""Parameter tables: Maestro's zipped global.parameters, our cross product, and pgen output.

A table is {"order": [KEY...], "count": N, "params": {KEY: {"name", "values", "labels"}}}
where values and labels have N entries: row i is combination i.
"""

import itertools

LABEL_TOKEN = "%%"
# Combinations a parameter table may have (spec or pgen), refused before the table is built.
MAX_COMBINATIONS = 1_000_000
# Step instances a study may have by default (combinations times the steps that use them): a
# million of them expand in under 2 GB here (bench/README.md); mexpand --max-instances raises it.
MAX_INSTANCES = 2_000_000


def label_for(template, value, index):
    if isinstance(template, list):
        return str(template[index])
    return template.replace(LABEL_TOKEN, str(value))


def table_from_spec(zipped: dict | None, product: dict | None) -> dict:
    """Rows of the zipped block, crossed with every parameter of the product block (first varies slowest)."""
    axes = []
    if zipped:
        count = len(next(iter(zipped.values()))["values"])
        axes.append([{key: (entry["values"][i], label_for(entry["label"], entry["values"][i], i))
                      for key, entry in zipped.items()} for i in range(count)])
    for key, entry in (product or {}).items():
        template = entry.get("label", f"{key}.{LABEL_TOKEN}")
        axes.append([{key: (value, label_for(template, value, i))} for i, value in enumerate(entry["values"])])
    order = list(zipped or {}) + list(product or {})
    table = {"order": order, "count": 0, "params": {k: {"name": k, "values": [], "labels": []} for k in order}}
    if not axes:
        return table
    for combo in itertools.product(*axes):
        merged = {}
        for part in combo:
            merged.update(part)
        for key in order:
            value, label = merged[key]
            table["params"][key]["values"].append(value)
            table["params"][key]["labels"].append(label)
        table["count"] += 1
    return table
