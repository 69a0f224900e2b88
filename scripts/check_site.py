"""Build the documentation site and check pages as a browser renders them (run by hand, not in CI).

    python scripts/check_site.py [--out site-check] [--chromium chromium]

1. `mkdocs build --strict` into `site/`.
2. Serves `site/` over HTTP on localhost and renders the home page, a model page and an API reference page in
   headless Chromium (Debian: `apt-get install chromium`): the DOM after scripts ran (`--dump-dom`) and a
   screenshot of each, written to `--out` (look at them: the script checks structure, not looks).
3. Checks in each rendered DOM: the navigation shows every section of `mkdocs.yml` and links every titled page,
   the page has highlighted code blocks, no `::: identifier` was left unrendered, and, on the pages that hold API
   reference, rendered API entries with a parameters table (Name / Type / Description / Default).

Exits with status 1 and lists what failed.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import shutil
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# page URL -> (whether it must hold rendered API reference, screenshot height: tall enough to show the API part)
PAGES = {"": (False, 1600), "dnabert2/": (True, 9000), "api/api/": (True, 3000)}


class Dom(HTMLParser):
    """What the checks need from a rendered page: nav link texts, code blocks, API entries and table headers."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []  # (tag, class) of open elements
        self.nav_links: list[str] = []
        self.nav_text: set[str] = set()
        self.code_blocks = 0
        self.api_entries = 0
        self.table_headers: list[list[str]] = []
        self.text: list[str] = []
        self._link: list[str] | None = None
        self._header: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "path"):
            self.stack.append((tag, classes))
        inside = " ".join(cls for _, cls in self.stack)
        if tag == "a" and "md-nav" in inside:
            self._link = []
        if tag == "code" and any(t == "pre" for t, _ in self.stack[:-1]) and "highlight" in inside:
            self.code_blocks += 1
        if tag == "div" and re.search(r"\bdoc-object\b", classes):
            self.api_entries += 1
        if tag == "tr" and self._header is None and any(t == "thead" for t, _ in self.stack):
            self._header = []

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.nav_links.append(" ".join("".join(self._link).split()))
            self._link = None
        if tag == "tr" and self._header is not None:
            self.table_headers.append(self._header)
            self._header = None
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if any("md-nav" in cls for _, cls in self.stack) and data.strip():
            self.nav_text.add(" ".join(data.split()))
        if self._link is not None:
            self._link.append(data)
        if self._header is not None and self.stack and self.stack[-1][0] == "th":
            self._header.append(data.strip())
        if not any(tag in ("pre", "code", "script", "style") for tag, _ in self.stack):
            self.text.append(data)


def nav_titles() -> tuple[list[str], list[str]]:
    """The titles of the sections and of the titled pages of `nav:` in mkdocs.yml."""
    sections, pages = [], []

    def walk(entries):
        for entry in entries:
            if isinstance(entry, dict):
                (title, value), *_ = entry.items()
                if isinstance(value, list):
                    sections.append(title)
                    walk(value)
                else:
                    pages.append(title)

    walk(yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)["nav"])
    return sections, pages


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def render(chromium: str, url: str, screenshot: Path, height: int) -> str:
    """The DOM of `url` after its scripts ran, and a screenshot of the top `height` pixels of the page."""
    common = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    common.append("--virtual-time-budget=5000")  # let the theme's scripts run
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    subprocess.run(
        [*common, f"--window-size=1280,{height}", f"--screenshot={screenshot}", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return dom


def check_page(dom: Dom, sections: list[str], pages: list[str], needs_api: bool) -> list[str]:
    problems = []
    missing = [section for section in sections if section not in dom.nav_text]
    missing += [page for page in pages if page not in dom.nav_links]
    if missing:
        problems.append(f"navigation lacks {missing}")
    if dom.code_blocks == 0:
        problems.append("no highlighted code blocks")
    leftover = re.findall(r"^\s*:::\s*[\w.]+", "".join(dom.text), re.MULTILINE)
    if leftover:
        problems.append(f"unrendered API directives: {leftover}")
    if needs_api:
        api_tables = [header for header in dom.table_headers if header[:3] == ["Name", "Type", "Description"]]
        if dom.api_entries == 0:
            problems.append("no rendered API entries (div.doc-object)")
        if not api_tables:
            problems.append(f"no API parameter table (tables: {dom.table_headers})")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="site-check", help="where to write screenshots and DOMs")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    args = parser.parse_args(argv)

    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet"], cwd=ROOT, check=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sections, nav_pages = nav_titles()
    server, base = serve(ROOT / "site")
    failures = 0
    try:
        for page, (needs_api, height) in PAGES.items():
            name = page.strip("/").replace("/", "-") or "home"
            html = render(args.chromium, base + page, out / f"{name}.png", height)
            (out / f"{name}.html").write_text(html)
            dom = Dom()
            dom.feed(html)
            problems = check_page(dom, sections, nav_pages, needs_api)
            failures += bool(problems)
            status = "FAIL" if problems else "ok"
            print(
                f"{status:4} /{page:12} nav links {len(dom.nav_links):3}  code blocks {dom.code_blocks:3}  "
                f"API entries {dom.api_entries:3}  tables {len(dom.table_headers):2}  screenshot {out / name}.png"
            )
            for problem in problems:
                print(f"     - {problem}")
    finally:
        server.shutdown()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
