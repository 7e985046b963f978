"""mexpand: expand a Maestro study spec into a versioned JSON DAG on stdout."""

import os

import click

from mshared.clitools import (CONTEXT_SETTINGS, check_pargs, default_sigpipe, stdout_bytes, tool_errors,
                              warn, without_cyclic_gc)
from mshared.printable import visible

from .params import MAX_INSTANCES


@click.command(name="mexpand", context_settings=CONTEXT_SETTINGS)
@click.argument("spec", default="-", metavar="[SPEC|-]")
@click.option("-p", "--pgen", type=click.Path(), help="Python file defining get_custom_generator(env, **kwargs); replaces global.parameters.")
@click.option("--pargs", multiple=True, metavar="KEY:VALUE", help="Argument passed to the pgen (repeatable; values are strings).")
@click.option("--hashws", is_flag=True, help="Name instance workspaces <step>_instance_<k>, as Maestro's --hashws.")
@click.option("--format", "fmt", type=click.Choice(["json", "dot"]), default="json", show_default=True, help="json: the DAG contract; dot: the graph for Graphviz.")
@click.option("--pretty", is_flag=True, help="Indent the JSON (same content, two-space indent).")
@click.option("--summary", is_flag=True, help="Print step and instance counts on stderr before the output.")
@click.option("--max-instances", type=click.IntRange(min=1), envvar="MAESTRO_MAX_INSTANCES", default=MAX_INSTANCES, show_default=True, help="Refuse a spec that makes more step instances than this (env MAESTRO_MAX_INSTANCES).")
@tool_errors
@default_sigpipe
@without_cyclic_gc
def main(spec, pgen, pargs, hashws, fmt, pretty, summary, max_instances):
    """Expand a Maestro study SPEC (YAML; - or nothing reads stdin) into a DAG on stdout.

    The DAG is a JSON document {"schema": "maestro.dag", "version": 1, "study": ..., "steps": [...]}
    with one entry per step instance, in topological order.  The same spec, working directory and
    flags always give byte-identical output.  Exit codes: 0 ok, 2 usage, 65 invalid spec.

    \b
    Example:
      mexpand study.yaml | mrender -o out/
    """
    import sys

    from mshared import dot
    from mshared.contracts import dump_dag, write_dag

    from .core import expand_file

    check_pargs(pgen, pargs)
    dag, warnings = expand_file(spec, cwd=os.getcwd(), stdin=sys.stdin.buffer, pgen=pgen, pargs=pargs,
                                hashws=hashws, max_instances=max_instances)
    for message in warnings:
        warn(message)
    if summary:
        _print_summary(dag)
    source = "<stdin>" if spec == "-" else spec
    if fmt == "json" and not pretty:
        write_dag(dag, sys.stdout.buffer, source)
        sys.stdout.buffer.flush()
        return
    stdout_bytes(dot.dag_to_dot(dag) if fmt == "dot" else dump_dag(dag, source, pretty=pretty))


def _print_summary(dag: dict) -> None:
    counts: dict[str, int] = {}
    for step in dag["steps"]:
        counts[step["step"]] = counts.get(step["step"], 0) + 1
    per_step = ", ".join(f"{name}: {n}" for name, n in counts.items())
    click.echo(visible(f"mexpand: {dag['study']['name']}: {len(counts)} steps, {len(dag['steps'])} "
                        f"instances ({per_step})"), err=True)
