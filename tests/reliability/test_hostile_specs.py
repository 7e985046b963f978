"""A hypothesis-generated corpus of specs, good and broken, fed to the mexpand CLI.

Every spec gets either a DAG that passes the DAG contract's checks (exit 0) or exit 65 with ONE
`mexpand: error: ...` line on stderr (warnings may precede a DAG, never an error), and never a
traceback or an "internal error" (exit 1).  Three sources:

* spec-shaped documents built from scratch, where any field may be missing or of a wrong type;
* the real Maestro samples (tests/corpus/maestro-samples) with keys dropped or renamed and values
  replaced by wrong types, weird unicode, control characters, huge numbers, NaN...;
* the samples' raw text with bytes inserted, deleted or swapped (YAML syntax errors).

A few hundred examples each by default; thousands with `make stress`.
"""

import collections
import glob
import os

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mexpand.cli import main
from mshared.contracts import parse_dag

from reliability_helpers import scaled

SAMPLES_DIR = os.path.join(os.path.dirname(__file__), "..", "corpus", "maestro-samples")
SAMPLES = sorted(glob.glob(os.path.join(SAMPLES_DIR, "**", "*.yaml"), recursive=True))
SAMPLE_TEXT = {os.path.basename(p): open(p, encoding="utf-8").read() for p in SAMPLES}
SAMPLE_DATA = {name: yaml.safe_load(text) for name, text in SAMPLE_TEXT.items()}

EXAMPLES = scaled(300, 3000)
HOSTILE = settings(max_examples=EXAMPLES, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                          HealthCheck.filter_too_much])
OUTCOMES = collections.Counter()

# ----------------------------------------------------------------- building blocks
WEIRD = st.sampled_from([
    "", " ", "..", "../..", "/", "/etc/passwd", "a/../../b", "\x00", "a\x00b", "\n", "a\nb", "\r\n",
    "\t", "'", '"', "`id`", "$(id)", "$(OUTPUT_PATH)", "$(WORKSPACE)", "$(LAUNCHER)", "$(nope",
    "%%", "%x", "#SBATCH --x", "\u202e", "\ufeff", "é", "💥", "\ud7ff", "ǅ", "Ω" * 300, "a" * 5000,
    "~", "-", "--", "*", "?", "[", "{", "}", "&a", "!!python/object", "null", "yes", "NO", "0x1f",
])
JUNK_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([0, -1, 10 ** 100, -(10 ** 100), 2 ** 63]),
    st.floats(allow_nan=True, allow_infinity=True), WEIRD, st.text(max_size=30),
)
JUNK = st.recursive(JUNK_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), WEIRD), inner, max_size=4)),
    max_leaves=12)
NAME = st.one_of(st.from_regex(r"[a-z][a-z0-9_\-]{0,8}", fullmatch=True), WEIRD, st.text(min_size=1, max_size=12))
TEXT = st.one_of(st.text(max_size=40), WEIRD)


def maybe(strategy, broken: bool):
    """When ``broken``: the value, a wrong-typed value, or nothing at all.  Else the value."""
    if not broken:
        return strategy
    return st.one_of(strategy, strategy, strategy, JUNK, st.just(KeyError))


def mapping(broken: bool, **fields):
    return st.fixed_dictionaries({k: maybe(v, broken) for k, v in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not KeyError})


CLEAN_NAME = st.from_regex(r"[a-z][a-z0-9_\-]{0,8}", fullmatch=True)
CLEAN_TEXT = st.text(min_size=1, max_size=40).filter(lambda t: t.strip())


@st.composite
def spec_documents(draw):
    """Spec-shaped documents; half of them clean (they should mostly expand), half with any field
    missing or of a wrong type."""
    broken = draw(st.booleans())
    name, text = (NAME, TEXT) if broken else (CLEAN_NAME, CLEAN_TEXT)
    steps = draw(st.lists(name, min_size=0 if broken else 1, max_size=5, unique=not broken))
    params = draw(st.lists(st.from_regex(r"[A-Z][A-Z0-9_]{0,5}", fullmatch=True), max_size=3, unique=True))
    tokens = [f"$({p})" for p in params] + [f"$({s}.workspace)" for s in steps] + \
        ["$(OUTPUT_PATH)", "$(LAUNCHER)", "$(SPECROOT)", "$(X)", "echo hi"]
    cmd = st.lists(st.sampled_from(tokens) | TEXT, min_size=1, max_size=4).map(" ".join).filter(
        lambda c: broken or c.strip())
    study = []
    for index, step in enumerate(steps):
        earlier = steps[:index] if not broken else steps + ["nope", "*"]
        run = draw(mapping(broken, cmd=cmd,
                           depends=st.lists(st.sampled_from(earlier), max_size=2, unique=True) if earlier
                           else st.just([]),
                           restart=cmd, nodes=st.integers(1 - broken, 4), procs=st.integers(1 - broken, 8),
                           walltime=st.sampled_from(["00:01:00", "1", "10:00", "1-00:00:00", "inf"]
                                                    + (["x"] if broken else []))))
        if not broken:   # optional keys: keep a random subset
            keep = draw(st.sets(st.sampled_from(["depends", "restart", "nodes", "procs", "walltime"])))
            run = {k: v for k, v in run.items() if k == "cmd" or k in keep}
        study.append(draw(mapping(broken, name=st.just(step), description=text, run=st.just(run))))
    count = draw(st.integers(1, 3))
    values = st.lists(st.one_of(st.integers(), TEXT.filter(lambda v: broken or v), st.floats(allow_nan=broken)),
                      min_size=count, max_size=count)
    label = st.sampled_from(["%%", "x.%%"]).map(lambda t: t) | (TEXT if broken else st.just("P.%%"))
    parameters = st.fixed_dictionaries({p: mapping(broken, values=values, label=label) for p in params})
    doc = draw(mapping(
        broken,
        description=mapping(broken, name=name, description=text),
        env=mapping(broken, variables=st.dictionaries(name, st.one_of(text, st.integers()), max_size=3),
                    labels=st.dictionaries(name, text, max_size=2)),
        batch=mapping(broken, type=st.sampled_from(["local", "slurm", "lsf", "flux", "pbs"]
                                                   + (["sge", ""] if broken else [])),
                      queue=text, host=text, bank=text),
        study=st.just(study),
        **{"global.parameters": parameters},
    ))
    if not params:
        doc.pop("global.parameters", None)
    if draw(st.booleans()):
        doc["global.parameters.product"] = draw(JUNK | parameters) if broken else draw(parameters)
    return doc


def dump(doc) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=10 ** 6)


def check_mexpand(text: str, kind: str) -> None:
    """The one rule: a DAG that passes parse_dag, or exit 65 with one error line; nothing else."""
    result = CliRunner().invoke(main, ["-"], input=text.encode("utf-8", "surrogatepass"), prog_name="mexpand")
    stderr = result.stderr
    if isinstance(result.exception, Exception) and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{kind}: mexpand raised {result.exception!r}\n--- spec ---\n{text[:2000]}") \
            from result.exception
    assert "Traceback" not in stderr
    assert result.exit_code in (0, 65), f"{kind}: exit {result.exit_code}: {stderr}\n--- spec ---\n{text[:2000]}"
    lines = stderr.splitlines()
    if result.exit_code == 0:
        parse_dag(result.stdout_bytes, "<mexpand output>")   # raises if the DAG breaks the contract
        assert all(line.startswith("mexpand: warning: ") for line in lines), stderr
        OUTCOMES[(kind, "dag")] += 1
    else:
        assert len(lines) == 1, f"{kind}: {len(lines)} lines on stderr:\n{stderr}\n--- spec ---\n{text[:2000]}"
        assert lines[0].startswith("mexpand: error: "), lines[0]
        assert len(lines[0]) <= 4000, f"{kind}: a {len(lines[0])}-character error line"
        OUTCOMES[(kind, "65")] += 1


# ----------------------------------------------------------------- the corpus
@HOSTILE
@given(doc=spec_documents())
def test_generated_specs_give_a_dag_or_one_clear_error(doc):
    check_mexpand(dump(doc), "generated")


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, prefix + (index,))


def _mutate(doc, path, op, junk, new_key):
    if not path:
        return junk if op == "replace" else doc
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "drop":
        del parent[last]
    elif op == "replace":
        parent[last] = junk
    elif op == "rename" and isinstance(parent, dict):
        parent[new_key] = parent.pop(last)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(last, parent[last])
    return doc


@HOSTILE
@given(data=st.data())
def test_mutated_maestro_samples_give_a_dag_or_one_clear_error(data):
    import copy

    name = data.draw(st.sampled_from(sorted(SAMPLE_DATA)), label="sample")
    doc = copy.deepcopy(SAMPLE_DATA[name])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = list(_paths(doc))
        path = data.draw(st.sampled_from(paths), label="path")
        op = data.draw(st.sampled_from(["drop", "replace", "replace", "rename", "duplicate"]), label="op")
        junk = data.draw(JUNK, label="value")
        new_key = data.draw(st.one_of(WEIRD, st.text(max_size=10)), label="key")
        try:
            doc = _mutate(doc, path, op, junk, new_key)
        except (KeyError, IndexError, TypeError):
            pass
    check_mexpand(dump(doc), f"sample:{name}")


@HOSTILE
@given(data=st.data())
def test_byte_level_damage_to_the_samples_gives_one_clear_error_at_worst(data):
    name = data.draw(st.sampled_from(sorted(SAMPLE_TEXT)), label="sample")
    text = SAMPLE_TEXT[name]
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        at = data.draw(st.integers(0, len(text)), label="at")
        edit = data.draw(st.sampled_from(["insert", "delete", "swap"]), label="edit")
        chunk = data.draw(st.one_of(WEIRD, st.sampled_from(list(":-[]{}&*!|>'\"#%@`\t\n ")), st.text(max_size=3)),
                          label="chunk")
        if edit == "insert":
            text = text[:at] + chunk + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + len(chunk) + 1:]
        else:
            text = text[:at] + chunk + text[at + len(chunk):]
    check_mexpand(text, f"bytes:{name}")


def test_zz_print_the_corpus_figures():
    """Runs after the three above (alphabetical order within the file): the figures for -s."""
    total = sum(OUTCOMES.values())
    kinds = collections.Counter()
    for (kind, outcome), n in OUTCOMES.items():
        kinds[(kind.split(":")[0], outcome)] += n
    print(f"\nhostile specs: {total} specs through the mexpand CLI "
          f"({EXAMPLES} examples per source; {len(SAMPLES)} Maestro samples): "
          + ", ".join(f"{k} {o}: {n}" for (k, o), n in sorted(kinds.items())))
