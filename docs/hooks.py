"""MkDocs hooks (mkdocs.yml ``hooks:``): draw the figures before each build, and put the latest
benchmark results into benchmarks.md.

Both work offline and without Graphviz; neither is a plugin, so there is nothing to install.
"""
from __future__ import annotations

import importlib.util
import logging
import pathlib
import re
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MARKER = "<!-- benchmark-results -->"
# distributed.md shows the newest results of `gradcore bench --only distributed`, committed in a
# folder named *-distributed; the suite's page leaves those out
DISTRIBUTED_MARKER = "<!-- distributed-results -->"
CHART = "benchmark-results.png"

log = logging.getLogger("mkdocs.hooks.gradcore")


def _figures_module():
    spec = importlib.util.spec_from_file_location("gradcore_docs_figures",
                                                  ROOT / "docs" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def on_pre_build(config, **kwargs):
    """Draw missing or out-of-date figures into docs/figures/ (before MkDocs collects files)."""
    figures = _figures_module()
    drawn = figures.build(pathlib.Path(config["docs_dir"]) / "figures", log=log.info)
    log.info("gradcore figures: %d drawn, the rest up to date", len(drawn))
    # the chart `gradcore bench` writes next to its table, copied so the page can show it
    chart = pathlib.Path(config["docs_dir"]) / "figures" / CHART
    found = latest_results()
    png = found[0].with_suffix(".png") if found else None
    if png is not None and png.exists():
        shutil.copyfile(png, chart)
    elif chart.exists():
        chart.unlink()


def latest_results(distributed=False):
    """(file, text) of the newest markdown file under benchmarks/results/, or None.

    ``latest.md`` wins when present; otherwise the most recently modified ``*.md`` (such as the
    ``results.md`` that ``gradcore bench --out benchmarks/results`` writes), subfolders included.
    ``distributed``: only (else: never) files in folders named ``*-distributed``.
    """
    if not RESULTS.is_dir():
        return None
    files = sorted((p for p in RESULTS.rglob("*.md") if p.name.lower() != "readme.md"
                    and p.parent.name.endswith("-distributed") == distributed),
                   key=lambda p: (p.stat().st_mtime, str(p)))
    if not files:
        return None
    latest = RESULTS / "latest.md"
    chosen = latest if latest.exists() and not distributed else files[-1]
    return chosen, chosen.read_text(encoding="utf-8")


_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def _neutralize_links(text):
    """Links inside the results file are relative to benchmarks/results/, not to docs/: keep
    web links, turn the others into plain text naming the file (strict builds stay clean)."""
    def fix(m):
        bang, label, target = m.groups()
        if re.match(r"^[a-z]+://|^#", target):
            return m.group(0)
        where = f"`benchmarks/results/{target}`"
        return f"{label} ({where})" if not bang else f"(figure: {where})"
    return _LINK.sub(fix, text)


def _demote_headings(text):
    """The page has its own title: a results file's '# ...' becomes '### ...'."""
    return re.sub(r"^(#{1,4}) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", text,
                  flags=re.MULTILINE)


def on_page_markdown(markdown, page, **kwargs):
    """Replace the marker in benchmarks.md with the latest results (or say there are none), and
    distributed.md's with the latest results of the distributed group."""
    if DISTRIBUTED_MARKER in markdown:
        found = latest_results(distributed=True)
        body = ("No results of `gradcore bench --only distributed` are committed yet.\n"
                if found is None else f"Results from `{found[0].relative_to(ROOT).as_posix()}`:\n\n"
                + _demote_headings(_neutralize_links(found[1].strip())) + "\n")
        markdown = markdown.replace(DISTRIBUTED_MARKER, body)
    if MARKER not in markdown:
        return markdown
    found = latest_results()
    if found is None:
        body = ("!!! note \"No results yet\"\n    No benchmark results have been recorded in "
                "`benchmarks/results/` yet. Run the benchmarks as described below; the next "
                "documentation build shows the newest results file here.\n")
    else:
        path, text = found
        body = (f"Results from `{path.relative_to(ROOT).as_posix()}`:\n\n"
                + _demote_headings(_neutralize_links(text.strip())) + "\n")
        if path.with_suffix(".png").exists():
            body += f"\n![benchmark chart](figures/{CHART})\n"
    return markdown.replace(MARKER, body)
