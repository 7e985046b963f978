"""Expand a spec with the real maestrowf 1.2.1 and print the staged graph as JSON.

Run by .parity-venv/bin/python (made by make_venv.sh), never by .venv.  Mirrors
maestrowf/maestro.py:run_study up to Study.stage(), but executes no step and fetches nothing:
git dependencies are not cloned (their `$(name)` substitution needs no clone).

    maestro_dump.py SPEC [--pgen FILE] [--pargs KEY:VALUE ...] [--hashws]

Output: {"study": name, "instances": [{id, depends, workspace, cmd, restart}, ...]} with
instances sorted by id; absolute paths of the study root and of the spec's directory become
the literal tokens $(OUTPUT_PATH) and $(SPECROOT), so the output is machine independent.
"""

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile

from maestrowf.datastructures.core import Study
from maestrowf.datastructures.environment import Variable
from maestrowf.maestro import load_parameter_generator
from maestrowf.specification import YAMLSpecification
from maestrowf.utils import create_dictionary

SOURCE = "_source"


def stage(spec_path, out_path, pgen=None, pargs=(), hashws=False):
    """Return (study name, ExecutionGraph) exactly as `maestro run -o out_path` builds them."""
    spec = YAMLSpecification.load_specification(spec_path)
    environment = spec.get_study_environment()
    steps = spec.get_study_steps()
    environment.remove("OUTPUT_PATH")  # -o wins over env OUTPUT_PATH, as in run_study
    environment.add(Variable("OUTPUT_PATH", out_path))
    spec_root = Variable("SPECROOT", os.path.abspath(os.path.split(spec_path)[0]))
    environment.add(spec_root)
    if pgen:
        kwargs = create_dictionary(list(pargs))
        kwargs["OUTPUT_PATH"] = out_path
        kwargs["SPECROOT"] = spec_root
        parameters = load_parameter_generator(pgen, environment, kwargs)
    else:
        parameters = spec.get_parameters()
    study = Study(spec.name, spec.description, studyenv=environment,
                  parameters=parameters, steps=steps, out_path=out_path)
    study.setup_workspace()
    study.configure_study(throttle=0, submission_attempts=1, restart_limit=1,
                          use_tmp=False, hash_ws=hashws, dry_run=True)
    # stage() insists the environment was acquired; acquiring clones git dependencies, which
    # would need the network and changes no step text, so mark it acquired instead.
    environment._is_set_up = True
    _, graph = study.stage()
    return spec.name, graph


def dump(name, graph, out_path, spec_root):
    def norm(text):
        if not text:
            return ""
        return text.replace(out_path, "$(OUTPUT_PATH)").replace(spec_root, "$(SPECROOT)")

    instances = []
    for node, record in graph.values.items():
        if node == SOURCE:
            continue
        instances.append({
            "id": node,
            "depends": sorted(p for p in graph._dependencies[node] if p != SOURCE),
            "workspace": os.path.relpath(record.workspace.value, out_path),
            "cmd": norm(record.step.run["cmd"]),
            "restart": norm(record.step.run["restart"]),
        })
    return {"study": name, "instances": sorted(instances, key=lambda i: i["id"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--pgen")
    parser.add_argument("--pargs", action="append", default=[])
    parser.add_argument("--hashws", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)  # Maestro logs every step at INFO
    spec_path = os.path.abspath(args.spec)
    pgen = os.path.abspath(args.pgen) if args.pgen else None
    scratch = tempfile.mkdtemp(prefix="maestro-dump-")
    try:
        # The cwd matters (relative path dependencies resolve against it): use an empty one,
        # like the parity test does for mexpand.
        cwd = os.path.join(scratch, "cwd")
        os.mkdir(cwd)
        os.chdir(cwd)
        out_path = os.path.join(scratch, "STUDY_ROOT")
        name, graph = stage(spec_path, out_path, pgen, args.pargs, args.hashws)
        doc = dump(name, graph, out_path, os.path.dirname(spec_path))
    finally:
        os.chdir("/")
        shutil.rmtree(scratch, ignore_errors=True)
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
