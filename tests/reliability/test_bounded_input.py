"""YAML bombs, deep nesting, huge files and parameter explosions: refused in bounded time and memory.

Each case runs `mexpand` in a child process under an address-space limit (RLIMIT_AS) and a
timeout, from a small Python wrapper that reports the child's peak RSS (getrusage
RUSAGE_CHILDREN) and wall time.  The promise: exit 65 with one `mexpand: error:` line, within
LIMIT_SECONDS and LIMIT_RSS_MB.  Specs are loaded with a safe loader only: a Python tag is
refused and never runs.
"""

import os
import subprocess

import pytest

from reliability_helpers import measured, one_line_error, tool

LIMIT_SECONDS = 10.0
LIMIT_RSS_MB = 1024


def measure(argv, cwd, stdin="-", timeout=LIMIT_SECONDS + 1) -> dict:
    return measured(argv, cwd, stdin=stdin, timeout=timeout)


HEAD = "description: {name: bomb, description: d}\nstudy:\n  - {name: s, description: d, run: {cmd: echo}}\n"


def laughs_list() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return HEAD + "\n".join(lines) + "\n"


def laughs_map() -> str:
    lines = ["m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol}"]
    lines += [f"m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i - 1}" for j in range(8)) + "}" for i in range(1, 10)]
    return HEAD + "\n".join(lines) + "\n"


def laughs_in_parameters() -> str:
    anchors = ["x0: &v0 [1, 2, 3, 4]"] + [f"x{i}: &v{i} [*v{i - 1}, *v{i - 1}, *v{i - 1}, *v{i - 1}]"
                                          for i in range(1, 11)]
    return HEAD + "\n".join(anchors) + "\nglobal.parameters:\n  P: {label: P.%%, values: *v10}\n"


def product_bomb() -> str:
    """1.4 KB asking for 100^4 = 100 million combinations of one step."""
    values = "[" + ",".join(str(i) for i in range(100)) + "]"
    params = "".join(f"  {key}: {{values: {values}}}\n" for key in "ABCD")
    return ("description: {name: prod, description: d}\nstudy:\n"
            "  - {name: s, description: d, run: {cmd: echo $(A) $(B) $(C) $(D)}}\n"
            "global.parameters.product:\n" + params)


GENERATED = {
    "billion laughs (lists)": laughs_list,
    "billion laughs (mappings)": laughs_map,
    "aliases inside parameter values": laughs_in_parameters,
    "deep flow nesting (100,000 [)": lambda: HEAD + "x: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deep flow mappings (5,000 {a:)": lambda: HEAD + "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "deep block nesting (300 levels)": lambda: HEAD + "".join(" " * i + f"k{i}:\n" for i in range(300))
    + " " * 300 + "v: 1\n",
    "unclosed quote over 1 MB": lambda: HEAD + 'x: "' + "a" * (1 << 20) + "\n",
    "parameter cross product of 10^8 combinations": product_bomb,
}


@pytest.mark.parametrize("case", list(GENERATED))
def test_bombs_and_deep_nesting_are_refused_quickly(tmp_path, case):
    spec = tmp_path / "spec.yaml"
    spec.write_text(GENERATED[case]())
    result = measure([tool("mexpand"), str(spec)], tmp_path)
    print(f"\nbounded input: {case} ({spec.stat().st_size} bytes): exit {result['code']} in "
          f"{result['seconds']:.2f} s, peak RSS {result['rss_mb']:.0f} MB: {result['stderr'].strip()[:160]}")
    assert result["code"] == 65, result
    one_line_error(result["stderr"], "mexpand")
    assert result["seconds"] < LIMIT_SECONDS and result["rss_mb"] < LIMIT_RSS_MB


@pytest.mark.parametrize("size_mb", [100, 1024])
@pytest.mark.parametrize("how", ["path", "stdin"])
def test_huge_files_are_refused_after_reading_just_past_the_limit(tmp_path, size_mb, how):
    spec = tmp_path / "huge.yaml"
    with open(spec, "wb") as handle:
        handle.truncate(size_mb * 1024 * 1024)     # sparse: costs no disk
    argv = [tool("mexpand"), str(spec)] if how == "path" else [tool("mexpand"), "-"]
    result = measure(argv, tmp_path, stdin=str(spec) if how == "stdin" else "-")
    print(f"\nbounded input: {size_mb} MB file by {how}: exit {result['code']} in {result['seconds']:.2f} s, "
          f"peak RSS {result['rss_mb']:.0f} MB")
    assert result["code"] == 65, result
    assert "larger than" in one_line_error(result["stderr"], "mexpand")
    assert result["seconds"] < LIMIT_SECONDS and result["rss_mb"] < 256


def test_an_endless_stream_on_stdin_is_refused(tmp_path):
    result = measure([tool("mexpand"), "-"], tmp_path, stdin="/dev/zero")
    print(f"\nbounded input: /dev/zero on stdin: exit {result['code']} in {result['seconds']:.2f} s, "
          f"peak RSS {result['rss_mb']:.0f} MB")
    assert result["code"] == 65 and result["rss_mb"] < 256, result


@pytest.mark.parametrize("shape", ["flat list", "many keys"])
def test_a_file_just_under_the_size_limit_is_still_handled_in_bounded_time(tmp_path, shape):
    """60 MB is under mexpand's 64 MB size cap; made of tiny nodes it stands for 15-30 million of
    them, far over the 5 million node cap, and must be refused as quickly as a bomb."""
    spec = tmp_path / "big.yaml"
    size = 60 * 1024 * 1024
    with open(spec, "w") as handle:
        handle.write(HEAD)
        if shape == "flat list":
            handle.write("x: [" + "1," * (size // 2) + "1]\n")
        else:
            handle.write("x:\n" + "".join(f"  k{i}: v\n" for i in range(size // 14)))
    result = measure([tool("mexpand"), str(spec)], tmp_path)
    print(f"\nbounded input: 60 MB spec of tiny nodes ({shape}): exit {result['code']} in "
          f"{result['seconds']:.2f} s, peak RSS {result['rss_mb']:.0f} MB")
    assert result["code"] == 65, result
    assert result["seconds"] < LIMIT_SECONDS and result["rss_mb"] < LIMIT_RSS_MB


def test_specs_are_loaded_with_a_safe_loader(tmp_path):
    marker = tmp_path / "pwned"
    spec = tmp_path / "spec.yaml"
    spec.write_text(HEAD + f"x: !!python/object/apply:os.system ['touch {marker}']\n"
                    "y: !!python/name:os.system\n")
    proc = subprocess.run([tool("mexpand"), str(spec)], capture_output=True, text=True, cwd=tmp_path)
    line = one_line_error(proc.stderr, "mexpand")
    print(f"\nbounded input: python tags: exit {proc.returncode}: {line}")
    assert proc.returncode == 65 and not marker.exists()
    assert not os.path.exists(marker)
