"""Every ``>>>`` example in gradcore's docstrings runs and prints what it says.

One test per module, found by walking the package (so a new module is covered without being
listed here); ``gradcore.__main__`` and the CLI are skipped (they run a program on import or
parse sys.argv). Options: ELLIPSIS and NORMALIZE_WHITESPACE.
"""
import doctest
import importlib
import pkgutil

import pytest

import gradcore

SKIP = {"gradcore.__main__", "gradcore.cli"}
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names():
    names = ["gradcore"]
    for info in pkgutil.walk_packages(gradcore.__path__, "gradcore.",
                                      onerror=lambda name: names.append(name)):
        names.append(info.name)
    return sorted(n for n in set(names) if n not in SKIP and not n.startswith("gradcore.__main__"))


MODULES = _module_names()


def test_walk_found_the_package():
    assert {"gradcore.tensor", "gradcore.autograd.functional", "gradcore.viz"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)  # an import error fails here, with its traceback
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in finder.find(module, name):
        # each docstring runs in a copy of its module's globals, so examples cannot leak
        runner.run(test, out=report.append)
    results = runner.summarize(verbose=False)
    if results.failed:
        pytest.fail(f"{results.failed} of {results.attempted} doctest examples failed in "
                    f"{name}:\n" + "".join(report), pytrace=False)
