"""The parity cases: every Maestro sample as is, plus --hashws and --pgen variants.

Shared by regen.py (runs under .venv, drives maestrowf in .parity-venv) and test_parity.py.
Paths are relative to tests/corpus; a case's golden is tests/golden/parity/<case name>.json.
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
CORPUS = TESTS / "corpus"
SAMPLES = CORPUS / "maestro-samples"
GOLDEN = TESTS / "golden" / "parity"
REPO = TESTS.parent
PARITY_PYTHON = REPO / ".parity-venv" / "bin" / "python"
DUMP = Path(__file__).resolve().parent / "maestro_dump.py"


@dataclass(frozen=True)
class Case:
    spec: str                      # relative to tests/corpus
    pgen: str | None = None        # relative to tests/corpus
    pargs: tuple[str, ...] = field(default_factory=tuple)
    hashws: bool = False
    variant: str = ""              # distinguishes goldens of the same spec

    @property
    def name(self) -> str:
        stem = self.spec[:-len(".yaml")] if self.spec.endswith(".yaml") else self.spec
        stem = stem.replace("/", "__")
        return f"{stem}--{self.variant}" if self.variant else stem

    @property
    def golden(self) -> Path:
        return GOLDEN / f"{self.name}.json"

    def flags(self) -> list[str]:
        """Command-line flags, the same for maestro_dump.py and mexpand."""
        out = ["--pgen", str(CORPUS / self.pgen)] if self.pgen else []
        for item in self.pargs:
            out += ["--pargs", item]
        return out + (["--hashws"] if self.hashws else [])

    def describe(self) -> dict:
        return {"spec": self.spec, "pgen": self.pgen, "pargs": list(self.pargs), "hashws": self.hashws}


def sample_specs() -> list[str]:
    """Every YAML spec under tests/corpus/maestro-samples, relative to tests/corpus."""
    found = []
    for root, dirs, files in os.walk(SAMPLES):
        dirs.sort()
        found += [os.path.relpath(os.path.join(root, f), CORPUS) for f in sorted(files)
                  if f.endswith((".yaml", ".yml"))]
    return found


BATCHED = "maestro-samples/how_to_guide/batched_parameters/batched_parameters_demo.yaml"

VARIANTS = [
    Case("maestro-samples/hello_world/hello_bye_parameterized.yaml", hashws=True, variant="hashws"),
    Case("maestro-samples/lulesh/lulesh_sample1_unix.yaml", hashws=True, variant="hashws"),
    Case("maestro-samples/hello_world/hello_world_multiparam.yaml", hashws=True, variant="hashws"),
    Case(BATCHED, pgen="pgen/csv_rows.py", pargs=("CSV:params.csv", "INDEX:param_combo"),
         variant="pgen-csv_rows"),
    Case(BATCHED, pgen="pgen/csv_rows.py",
         pargs=("CSV:params.csv", "INDEX:param_combo", "NROWS:5", "START:3"),
         variant="pgen-csv_rows-slice"),
    Case(BATCHED, pgen="pgen/csv_rows.py", pargs=("CSV:params.csv", "NROWS:12"), hashws=True,
         variant="pgen-csv_rows-hashws"),
    Case("specs/hello_pgen.yaml", pgen="pgen/cross_product.py", variant="pgen-cross_product"),
    Case("specs/hello_pgen.yaml", pgen="pgen/cross_product.py", hashws=True,
         variant="pgen-cross_product-hashws"),
    Case("specs/monte_carlo.yaml", pgen="pgen/monte_carlo.py", variant="pgen-monte_carlo"),
    Case("specs/monte_carlo.yaml", pgen="pgen/monte_carlo.py", pargs=("seed:99", "trials:3"),
         variant="pgen-monte_carlo-pargs"),
]


def all_cases() -> list[Case]:
    return [Case(spec) for spec in sample_specs()] + VARIANTS


def load_golden(case: Case) -> dict:
    with open(case.golden, encoding="utf-8") as handle:
        return json.load(handle)


def render_golden(doc: dict) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
