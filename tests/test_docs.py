"""Documentation examples never rot: every ```python block of docs/**/*.md and README.md runs.

Blocks of one page run in order in one fresh namespace (a page may build on its earlier
blocks), in a temporary working directory, with matplotlib's Agg backend. A block right after a
``<!-- skip-test -->`` line is skipped: reserved for blocks that need a GPU.
"""
import os
import pathlib
import re

import pytest

from tests.helpers import load_script

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]
SKIP = "<!-- skip-test -->"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(text):
    """[(line number, source, skipped)] for each ```python block of a Markdown text."""
    blocks = []
    for m in _FENCE.finditer(text):
        before = text[:m.start()].rstrip("\n").splitlines()
        skipped = bool(before) and before[-1].strip() == SKIP
        blocks.append((text.count("\n", 0, m.start()) + 2, m.group(1), skipped))
    return blocks


def test_block_extraction():
    text = "a\n```python\nx = 1\n```\n<!-- skip-test -->\n```python\ngpu()\n```\n```bash\nls\n```\n"
    assert python_blocks(text) == [(3, "x = 1\n", False), (7, "gpu()\n", True)]


def _runnable(page):
    return any(not skipped for _, _, skipped in python_blocks(page.read_text(encoding="utf-8")))


RUNNABLE = [p for p in PAGES if _runnable(p)]  # pages of prose or API stubs have nothing to run


def test_every_page_is_collected():
    names = {str(p.relative_to(ROOT)) for p in RUNNABLE}
    assert {"README.md", "docs/architecture.md", "docs/getting-started.md"} <= names


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib").use("Agg")
    blocks = python_blocks(page.read_text(encoding="utf-8"))
    monkeypatch.chdir(tmp_path)  # files a block writes land here
    namespace = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    rel = page.relative_to(ROOT)
    for line, source, skipped in blocks:
        if skipped:
            continue
        code = compile(source, f"{rel}:{line}", "exec")  # tracebacks point into the page
        exec(code, namespace)


# ---- the build's own helpers (docs/hooks.py, docs/griffe_doctest.py) ---------------------------
def _load(name):
    return load_script(ROOT / "docs" / f"{name}.py")


def test_benchmarks_page_without_results(tmp_path, monkeypatch):
    hooks = _load("hooks")
    monkeypatch.setattr(hooks, "RESULTS", tmp_path / "missing")
    out = hooks.on_page_markdown(f"# Benchmarks\n\n{hooks.MARKER}\n", page=None)
    assert hooks.MARKER not in out and "No benchmark results" in out
    assert hooks.on_page_markdown("# Other page\n", page=None) == "# Other page\n"


def test_benchmarks_page_shows_the_newest_results(tmp_path, monkeypatch):
    hooks = _load("hooks")
    results = tmp_path / "benchmarks" / "results"
    (results / "old").mkdir(parents=True)
    (results / "old" / "results.md").write_text("# old\n\n| stale |\n")
    os.utime(results / "old" / "results.md", (1, 1))
    (results / "results.md").write_text(
        "# gradcore benchmark results\n\n| case | ratio |\n| --- | --- |\n| mlp | 0.9 |\n\n"
        "[raw numbers](results.json), [PyTorch](https://pytorch.org)\n")
    (results / "results.png").write_bytes(b"not really a png")
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    monkeypatch.setattr(hooks, "RESULTS", results)
    out = hooks.on_page_markdown(f"# Benchmarks\n\n{hooks.MARKER}\n", page=None)
    assert "| mlp | 0.9 |" in out and "stale" not in out
    assert "### gradcore benchmark results" in out          # below the page's own title
    assert "](results.json)" not in out and "`benchmarks/results/results.json`" in out
    assert "[PyTorch](https://pytorch.org)" in out           # web links are kept
    assert "figures/benchmark-results.png" in out


def test_doctest_blocks_become_fenced_code():
    pytest.importorskip("griffe")
    fence = _load("griffe_doctest").fence_doctests
    text = ("Intro, see :func:`gradcore.grad` and :class:`~gradcore.nn.Linear`.\n"
            ">>> x = 1  # doctest: +ELLIPSIS\n>>> x\n1\n\nAfter.")
    assert fence(text) == ("Intro, see `gradcore.grad` and `Linear`.\n\n```pycon\n>>> x = 1\n"
                           ">>> x\n1\n```\n\n\nAfter.")


def test_distributed_results_go_to_their_own_page(tmp_path, monkeypatch):
    hooks = _load("hooks")
    results = tmp_path / "benchmarks" / "results"
    for folder, text in (("cpu-suite", "| suite row |"), ("cpu-x-distributed", "| allreduce row |")):
        (results / folder).mkdir(parents=True)
        (results / folder / "results.md").write_text(f"# gradcore benchmark results\n\n{text}\n")
    os.utime(results / "cpu-suite" / "results.md", (1, 1))  # the distributed one is newer
    monkeypatch.setattr(hooks, "ROOT", tmp_path)
    monkeypatch.setattr(hooks, "RESULTS", results)
    suite = hooks.on_page_markdown(f"# Benchmarks\n\n{hooks.MARKER}\n", page=None)
    assert "| suite row |" in suite and "allreduce" not in suite
    page = hooks.on_page_markdown(f"# Many GPUs\n\n{hooks.DISTRIBUTED_MARKER}\n", page=None)
    assert "| allreduce row |" in page and "suite row" not in page
    assert "`benchmarks/results/cpu-x-distributed/results.md`" in page


def test_scaling_tables_in_the_page_are_the_models_output():
    """docs/distributed.md shows exactly what docs/scaling.py prints: the tables cannot drift
    from the model or its sourced inputs."""
    scaling = _load("scaling")
    page = (ROOT / "docs" / "distributed.md").read_text(encoding="utf-8")
    start = page.index("<!-- scaling-tables: docs/scaling.py -->\n") + len("<!-- scaling-tables: docs/scaling.py -->\n")
    assert page[start:page.index("\n<!-- /scaling-tables -->")] == scaling.tables()
    # the model's own arithmetic: 8 ranks, 370 GB/s, BF16 dense x 0.5, no overlap
    b = scaling.min_batch(8, 370e9, 1979e12 / 2, overlap=False)
    t_c = 6 * b / (1979e12 / 2 * 0.5)
    t_ar = 2 * 7 / 8 * 4 / 370e9
    assert t_c / (t_c + t_ar) >= 0.9 > 6 * (b - 1) / (1979e12 / 4) / (6 * (b - 1) / (1979e12 / 4) + t_ar)
