"""The Jinja environment of the HTML pages the toolkit writes (feedback, class report): files in ``autograder/templates/``.

Everything is escaped unless a template says ``| safe``; an undefined name is an error, not an empty string.
"""
from __future__ import annotations

from importlib.resources import files

import jinja2

PAGES = jinja2.Environment(loader=jinja2.PackageLoader("autograder", "templates"), autoescape=True,
                           trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)


def template_text(name: str) -> str:
    """The text of ``autograder/templates/<name>`` (a stylesheet, or a template another engine renders)."""
    return files("autograder").joinpath("templates", name).read_text(encoding="utf-8")
