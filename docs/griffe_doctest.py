"""A Griffe extension for the API pages: gradcore's docstrings are reST-flavoured text with
doctest examples, not Markdown. Without this, ``>>>`` lines would render as nested block quotes.

* doctest blocks (a ``>>>`` line up to the next blank line) become fenced ``pycon`` code, with
  ``# doctest:`` directives dropped;
* Sphinx roles such as ``:func:`gradcore.grad``` and ``:class:`~gradcore.nn.Linear``` become
  inline code (no cross-reference is attempted, so none can dangle).
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|exc|obj):`(~?)([^`]+)`")
_DIRECTIVE = re.compile(r"\s*#\s*doctest:.*$")


def _role(match):
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def fence_doctests(text):
    """Wrap every doctest block of ``text`` in a fenced pycon code block."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(_ROLE.sub(_role, line))
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(_DIRECTIVE.sub("", lines[i][len(indent):] if lines[i].startswith(indent)
                                        else lines[i].lstrip()))
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += [indent + "```pycon", *(indent + b for b in block), indent + "```", ""]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    """Rewrite docstrings as the objects are loaded (see the module docstring)."""

    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = fence_doctests(obj.docstring.value)
