"""A spec file (or stdin) to a DAG: reading, parsing, the pgen, expansion.  Shared by mexpand's
command and the maestro wrapper, so both read specs the same way."""

import os

from mshared.errors import InvalidInput

from . import core, pgen as pgen_mod, specload


def read_spec(spec: str, stdin=None) -> tuple[str, str, str | None]:
    """(text, source name for messages, absolute path or None) of ``spec`` ('-' reads ``stdin``)."""
    if spec == "-":
        source, path = "<stdin>", None
        data = specload.read_limited(stdin, source)
    else:
        path, source = os.path.abspath(spec), spec
        try:
            with open(path, "rb") as handle:
                data = specload.read_limited(handle, source)
        except OSError as err:
            raise InvalidInput(f"{spec}: cannot read the spec: {err.strerror}") from None
    try:
        return data.decode("utf-8"), source, path
    except UnicodeDecodeError as err:
        raise InvalidInput(f"{source}: not UTF-8 text (byte {err.start}); save the spec as UTF-8") from None


def expand_text(text: str, source: str, path: str | None, *, cwd: str, pgen: str | None = None,
                pargs=(), hashws: bool = False) -> tuple[dict, list[str]]:
    """The DAG and warnings for spec ``text``; ``pgen`` (a file) is run here, as Maestro's --pgen."""
    specroot = os.path.dirname(path) if path else cwd
    data = specload.load_yaml(text, source)
    generated = None
    if pgen:
        from .envres import resolve_environment
        from .validate import validate_spec

        validate_spec(data, source)
        env = resolve_environment(data.get("env"), specroot, cwd, source)
        parent = os.path.normpath(os.path.join(cwd, (env["output_path"] or ".").replace("$(SPECROOT)", specroot)))
        generated = pgen_mod.run_pgen(pgen, pgen_mod.parse_pargs(pargs), {**env["typed"], "OUTPUT_PATH": parent},
                                      parent, specroot)
    return core.expand(data, source=source, spec_text=text, spec_path=path, specroot=specroot, cwd=cwd,
                       hashws=hashws, pgen=generated)
