"""A pytest plugin for benchmarks/verify_gpu.py: each test's start and outcome go to the progress
file ``$GRADCORE_PROGRESS`` as they happen, and tests already done there are deselected, so a
pytest run restarted after a crash or a hang (gradcore.bench.isolate.supervise) goes on where
the last one stopped. Loaded with ``-p verify_progress`` (benchmarks/ on PYTHONPATH)."""
import os
import time

from gradcore.bench.isolate import PROGRESS_ENV, append, done_ids

_outcomes = {}  # nodeid -> (outcome, first failure's short text)
_started = {}


def _progress():
    return os.environ.get(PROGRESS_ENV)


def pytest_collection_modifyitems(config, items):
    path = _progress()
    done = done_ids(path) if path else set()
    if not done:
        return
    keep = [item for item in items if item.nodeid not in done]
    config.hook.pytest_deselected(items=[item for item in items if item.nodeid in done])
    items[:] = keep


def pytest_runtest_logstart(nodeid, location):
    _started[nodeid] = time.monotonic()
    if _progress():
        append(_progress(), {"event": "start", "id": nodeid})


def pytest_runtest_logreport(report):
    outcome, text = _outcomes.get(report.nodeid, ("passed", ""))
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        if not text and report.longreprtext.strip():
            text = report.longreprtext.strip().splitlines()[-1][:500]
    elif report.skipped and outcome == "passed":
        outcome, text = "skipped", str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    _outcomes[report.nodeid] = (outcome, text)


def pytest_runtest_logfinish(nodeid, location):
    if _progress():
        outcome, text = _outcomes.pop(nodeid, ("passed", ""))
        append(_progress(), {"event": "done", "id": nodeid, "outcome": outcome, "error": text,
                             "seconds": round(time.monotonic() - _started.pop(nodeid, time.monotonic()), 3)})
