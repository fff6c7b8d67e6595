"""The README's and docs' code blocks cannot go stale: every tool command names flags its tool defines, and the
Python blocks run."""

import functools
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

from tests.harness import ROOT

PAGES = [os.path.join(ROOT, "README.md"), *sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))]


def blocks(language):
    """`(page, code)` of every fenced block of `language` in the README and docs."""
    found = []
    for page in PAGES:
        with open(page, encoding="utf-8") as f:
            text = f.read()
        found += [
            (os.path.relpath(page, ROOT), code) for code in re.findall(rf"^```{language}\n(.*?)^```", text, re.M | re.S)
        ]
    return found


def tool_commands():
    """`(page, tool, [args])` of every `python tools/X.py ...` line (continuations joined, comments dropped)."""
    commands = []
    for page, code in blocks("bash"):
        for line in code.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            for start, word in enumerate(words):
                if word.startswith("tools/") and word.endswith(".py") and words[start - 1] == "python":
                    end = next((i for i in range(start + 1, len(words)) if words[i] in ("&&", "|", ";")), len(words))
                    commands.append((page, word, words[start + 1 : end]))
    return commands


@functools.cache
def defined_flags(tool):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, tool), "--helpfull"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=300,
    )
    return set(re.findall(r"^\s+--(?:\[no\])?(\w+)", result.stdout, re.M))


def test_the_pages_have_tool_commands_and_python_blocks():
    assert len(tool_commands()) >= 20 and len(blocks("python")) >= 3


def test_every_tool_command_names_a_tool_and_flags_it_defines():
    from fastformers_tf.data import get_task

    for page, tool, args in tool_commands():
        assert os.path.isfile(os.path.join(ROOT, tool)), f"{page}: {tool} does not exist"
        flags = defined_flags(tool)
        for arg in args:
            if arg.startswith("--"):
                name = arg[2:].split("=", 1)[0]
                name = name[2:] if name.startswith("no") and name[2:] in flags else name
                assert name in flags, f"{page}: {tool} has no flag --{name}"
            if arg.startswith("--task="):
                get_task(arg.split("=", 1)[1])  # a task the registry knows
            if arg.startswith("--preset="):
                assert os.path.isfile(os.path.join(ROOT, "configs", "presets", arg.split("=", 1)[1] + ".yaml"))


@pytest.mark.slow
def test_the_python_blocks_run(tmp_path, monkeypatch):
    """Each Python block, as written, with all-MiniLM-L6-v2; the whole main job is recorded, not run (hours)."""
    import fastformers_tf as ff
    from fastformers_tf.recipe import Recipe

    jobs = []
    monkeypatch.setattr(ff, "compress_model", lambda recipe: jobs.append(recipe))
    monkeypatch.chdir(tmp_path)
    ran = 0
    for page, code in blocks("python"):
        if "optimum" in code:
            continue  # a Hugging Face client: tests/interop/test_optimum.py runs it (-m interop)
        scope = {}
        exec(compile(code, page, "exec"), scope)
        ran += 1
        if "ff.prune.prune(model, plan)" in code:
            assert scope["small"].count_params() < scope["model"].count_params()
    assert ran == 3 and len(jobs) == 2 and all(isinstance(r, Recipe) and r.task == "sst2" for r in jobs)
    assert (tmp_path / "runs" / "small").is_dir()
