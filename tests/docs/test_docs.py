"""Every code snippet of README.md and docs/**/*.md runs.

- ```python blocks run in one namespace per page, in page order (a block may use what an earlier one defined),
  with a fresh temporary directory of that page as the working directory.
- ```bash blocks run through `bash -euo pipefail` in the same directory; `multimolecule` there is
  `python -m multimolecule` of the code under test, and `python` is the interpreter running the tests. To spare
  the interpreter's start-up (seconds, with torch and transformers), `multimolecule ...` and
  `python -m multimolecule...` run in a fork of one process that imported them (tests/docs/snippet_server.py);
  `DOCS_SNIPPETS_FORK=0` runs each in a fresh interpreter instead.
- ```console blocks: each `$ ` command (with its `\\` continuation lines) runs like a bash block; the output
  shown in the page is illustrative and is not compared.

A block can be preceded by marker lines (HTML comments, invisible on the site; blank lines may separate them
from the block):

    <!-- snippet: skip REASON -->
        the block is not run (say why).
    <!-- snippet: substitute OLD=NEW [OLD=NEW ...] -->
        every OLD in the block is replaced by NEW before it runs. A NEW that names a path relative to the root of
        the clone (e.g. `../shared/fixtures/dnabert2/tiny_a`, `multimolecule/demo/dnabert2`) becomes that
        absolute path; any other NEW is put in literally. Use it for published weights (a fixture of the same
        layout stands in) and placeholder paths. A block whose `../shared` fixture is missing is skipped.

Failures are reported as `page:line` of the block's first line.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
RUNNABLE = {"python": "python", "py": "python", "bash": "bash", "sh": "bash", "shell": "bash", "console": "console"}

FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,})\s*(?P<language>[\w+-]*)")
MARKER = re.compile(r"^\s*<!--\s*snippet:\s*(?P<kind>[\w-]+)\b(?P<argument>.*?)-->\s*$")
MARKER_KINDS = ("skip", "substitute")

SERVER = Path(__file__).with_name("snippet_server.py")
# bash preludes: `multimolecule` is the package under test, whatever console script the environment has.
FRESH_PRELUDE = 'set -euo pipefail\nmultimolecule() { "$DOCS_PYTHON" -m multimolecule "$@"; }\n'
FORK_PRELUDE = """set -euo pipefail
multimolecule() { "$DOCS_PYTHON" -S "$DOCS_SNIPPET_CLIENT" run multimolecule "$@"; }
python() {
    if [ "${1-}" = -m ] && [[ "${2-}" == multimolecule* ]]; then
        local module=$2; shift 2; "$DOCS_PYTHON" -S "$DOCS_SNIPPET_CLIENT" run "$module" "$@"
    else
        command python "$@"
    fi
}
"""


@dataclass
class Snippet:
    page: Path
    line: int  # 1-based line of the block's first code line
    language: str  # python, bash or console
    source: str
    skip: str | None = None  # reason
    substitutions: list[tuple[str, str]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{shown(self.page)}:{self.line}"


def shown(page: Path) -> str:
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def parse_page(page: Path) -> list[Snippet]:
    """The runnable blocks of a Markdown page with their markers; an unknown marker is an error."""
    snippets, markers, lines = [], [], page.read_text().splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        marker = MARKER.match(line)
        if marker:
            if marker["kind"] not in MARKER_KINDS:
                raise ValueError(f"{shown(page)}:{index + 1}: unknown snippet marker {marker['kind']!r}")
            markers.append((marker["kind"], marker["argument"].strip()))
            index += 1
            continue
        fence = FENCE.match(line)
        if not fence:
            if line.strip():
                markers = []
            index += 1
            continue
        indent, ticks = len(fence["indent"]), fence["fence"]
        start, index = index + 1, index + 1
        while index < len(lines) and not lines[index].strip().startswith(ticks):
            index += 1
        body = "\n".join(re.sub(rf"^\s{{0,{indent}}}", "", text) for text in lines[start:index])
        index += 1
        language = RUNNABLE.get(fence["language"].lower())
        if language is not None:
            snippet = Snippet(page, start + 1, language, body)
            for kind, argument in markers:
                if kind == "skip":
                    snippet.skip = argument or "marked skip"
                else:
                    snippet.substitutions += [tuple(item.split("=", 1)) for item in shlex.split(argument)]
            snippets.append(snippet)
        markers = []
    return snippets


def substitute(snippet: Snippet) -> str:
    """The block's source with its substitutions applied (in one pass, so a NEW is never replaced again)."""
    if not snippet.substitutions:
        return snippet.source
    replacements = {}
    for old, new in snippet.substitutions:
        path = (ROOT / new).resolve()
        if new.startswith("../shared/") and not path.exists():
            pytest.skip(f"shared fixtures not found at {path}")
        replacements[old] = str(path) if path.exists() else new
        if old not in snippet.source:
            raise AssertionError(f"{snippet.name}: substitution {old!r} does not occur in the block")
    pattern = re.compile("|".join(re.escape(old) for old in sorted(replacements, key=len, reverse=True)))
    return pattern.sub(lambda match: replacements[match[0]], snippet.source)


def console_commands(source: str) -> str:
    """The `$ ` commands of a console transcript, continuation lines included, as a bash script."""
    commands, continuing = [], False
    for line in source.splitlines():
        if line.startswith("$ ") or continuing:
            commands.append(line[2:] if line.startswith("$ ") and not continuing else line)
            continuing = line.rstrip().endswith("\\")
    return "\n".join(commands)


@pytest.fixture(scope="module")
def bash_env(tmp_path_factory):
    """The environment of the bash snippets, and the prelude defining `multimolecule` there."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["DOCS_PYTHON"] = sys.executable
    if os.environ.get("DOCS_SNIPPETS_FORK", "1") == "0":
        yield env, FRESH_PRELUDE
        return
    directory = tempfile.mkdtemp(prefix="snippets-")  # short: socket paths are limited to ~100 characters
    env["DOCS_SNIPPET_SERVER"], env["DOCS_SNIPPET_CLIENT"] = f"{directory}/socket", str(SERVER)
    log = tmp_path_factory.mktemp("snippet-server") / "stderr.txt"
    with open(log, "w") as stderr:
        server = subprocess.Popen(
            [sys.executable, str(SERVER), "serve", env["DOCS_SNIPPET_SERVER"]],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        if server.stdout.readline().strip() != "ready":
            pytest.fail(f"the snippet server did not start:\n{log.read_text()[-3000:]}", pytrace=False)
        yield env, FORK_PRELUDE
    finally:
        server.kill()
        server.wait()
        Path(env["DOCS_SNIPPET_SERVER"]).unlink(missing_ok=True)
        os.rmdir(directory)


def run_bash(script: str, cwd: Path, name: str, bash_env) -> subprocess.CompletedProcess:
    env, prelude = bash_env
    result = subprocess.run(
        ["bash", "-c", prelude + script],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        pytest.fail(
            f"{name}: exit status {result.returncode}\n--- script\n{script}\n--- stdout\n{result.stdout[-3000:]}"
            f"\n--- stderr\n{result.stderr[-3000:]}",
            pytrace=False,
        )
    return result


class PageRun:
    """The shared state of one page's blocks: the namespace, the working directory, what has run."""

    def __init__(self, snippets: list[Snippet], directory: Path):
        self.snippets, self.directory = snippets, directory
        self.namespace: dict = {"__name__": "__docs__"}
        self.done: dict[int, bool] = {}  # block index -> succeeded

    def run_through(self, target: int, monkeypatch: pytest.MonkeyPatch, bash_env) -> None:
        """Run every block up to `target` that has not run yet; earlier blocks run first, as a reader would."""
        monkeypatch.chdir(self.directory)
        for index, snippet in enumerate(self.snippets[: target + 1]):
            if snippet.skip or index in self.done:
                if index < target and self.done.get(index) is False:
                    pytest.fail(f"an earlier block of this page failed: {snippet.name}", pytrace=False)
                continue
            self.done[index] = False
            source = substitute(snippet)
            if snippet.language == "python":
                code = compile("\n" * (snippet.line - 1) + source, str(snippet.page), "exec")
                exec(code, self.namespace)  # noqa: S102
            else:
                script = console_commands(source) if snippet.language == "console" else source
                run_bash(script, self.directory, snippet.name, bash_env)
            self.done[index] = True


SNIPPETS = [(page, index, snippet) for page in PAGES for index, snippet in enumerate(parse_page(page))]


@pytest.fixture(scope="module")
def page_runs(tmp_path_factory) -> dict[Path, PageRun]:
    runs = {}
    for page in PAGES:
        name = re.sub(r"\W+", "-", str(page.relative_to(ROOT)))
        runs[page] = PageRun(parse_page(page), tmp_path_factory.mktemp(name))
    return runs


@pytest.mark.parametrize(("page", "index", "snippet"), SNIPPETS, ids=[snippet.name for _, _, snippet in SNIPPETS])
def test_snippet_runs(page, index, snippet, page_runs, monkeypatch, bash_env):
    if snippet.skip:
        pytest.skip(snippet.skip)
    page_runs[page].run_through(index, monkeypatch, bash_env)


def test_every_page_is_found():
    names = {str(page.relative_to(ROOT)) for page in PAGES}
    assert {"README.md", "docs/index.md", "docs/dnabert2.md", "docs/nucleotide_transformer.md"} <= names
    assert sum(snippet.language == "python" for _, _, snippet in SNIPPETS) >= 5


def test_markers_are_parsed(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "text\n<!-- snippet: skip needs a GPU -->\n```bash\nnvidia-smi\n```\n\n"
        "<!-- snippet: substitute a/b=multimolecule/demo x=y -->\n\n```python\nprint('a/b', 'x')\n```\n"
        "<!-- snippet: skip -->\nprose between the marker and the block cancels it\n```py\npass\n```\n"
    )
    skipped, substituted, plain = parse_page(page)
    assert (skipped.skip, skipped.line, skipped.source) == ("needs a GPU", 4, "nvidia-smi")
    assert substituted.skip is None and substituted.substitutions == [("a/b", "multimolecule/demo"), ("x", "y")]
    assert substitute(substituted) == f"print('{ROOT / 'multimolecule/demo'}', 'y')"
    assert plain.skip is None and plain.language == "python"
    page.write_text("<!-- snippet: skipp -->\n```bash\ntrue\n```\n")
    with pytest.raises(ValueError, match="unknown snippet marker"):
        parse_page(page)


def test_readme_quick_start_commands(tmp_path, bash_env):
    """The quick start's install commands are not run here; its `multimolecule` commands are, as written."""
    quick_start = next(snippet for snippet in parse_page(ROOT / "README.md") if "python3 -m venv" in snippet.source)
    assert quick_start.skip, "the README's install commands must carry a skip marker"
    commands = [part.strip() for part in quick_start.source.split("&&") if part.strip().startswith("multimolecule ")]
    assert [command.split()[1] for command in commands] == ["fill-mask", "embed"]
    example = str(ROOT / "multimolecule/demo/example.fasta")
    script = "\n".join(commands).replace("multimolecule/demo/example.fasta", example)
    result = run_bash(script, tmp_path, "README.md quick start", bash_env)
    assert "first base:" in result.stdout
    from safetensors import safe_open

    with safe_open(tmp_path / "embeddings.safetensors", "pt") as file:
        keys = set(file.keys())
    assert "embeddings" in keys and "per_base.0" in keys


def test_readme_test_command_is_what_ci_runs():
    """`.ci/run` runs the README's test command, nothing more and nothing less."""
    command = next(snippet for snippet in parse_page(ROOT / "README.md") if "pytest" in snippet.source).source
    readme = [part.strip() for part in command.split("&&") if part.strip() != ". .venv/bin/activate"]
    ci_lines = (ROOT / ".ci/run").read_text().splitlines()
    after_setup = ci_lines[max(index for index, line in enumerate(ci_lines) if "pip install" in line) + 1 :]
    ci = [part.strip() for line in after_setup if line.strip() for part in line.split("&&")]
    assert readme == ci
