"""The graph drawn by Graphviz, as inline SVG for static fallbacks.

Where the widget cannot run (GitHub, nbviewer, nbconvert, a front-end without the widget
manager) a notebook shows the HTML of its outputs: the status table, and this picture of
the DAG with each job's state (drawn by ``dot`` when it is installed, else by Graphviz in
process: see ``_dot.render_svg``). It is drawn for a run that ended or a scheduler at
rest (never on each refresh while a run goes on), and for graphs small enough to read
(and to lay out fast).

The SVG goes into the page as markup: job labels reach it escaped twice (for DOT by
``_dot``, for XML by Graphviz), and the SVG is checked before use: no script, no
foreign content, no event handler, no link.
"""

from __future__ import annotations

import logging
from typing import Any
from xml.etree import ElementTree

from .dot import svg_text

logger = logging.getLogger("nbjobs")

#: jobs (leaves) at most in a picture: past this, a static picture is unreadable and
#: Graphviz takes seconds
PICTURE_MAX_JOBS = 200
#: seconds Graphviz may take before the picture is given up
DOT_TIMEOUT = 10.0

_FORBIDDEN_TAGS = {"script", "foreignobject", "iframe", "object", "embed", "use", "image"}


def safe_svg(text: str) -> str | None:
    """The ``<svg>`` element of Graphviz's output, or None when it holds anything that
    could run or load something (it is inserted into the page as markup)."""
    start = text.find("<svg")
    if start < 0:
        return None
    svg = text[start:]  # the XML declaration and DOCTYPE before it are not kept
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return None
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue  # a comment
        if element.tag.rsplit("}", 1)[-1].lower() in _FORBIDDEN_TAGS:
            return None
        for name in element.attrib:
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on") or local == "href":
                return None
    return svg


def picture_html(scheduler: Any) -> str:
    """An HTML block with the graph's SVG picture, or "" when there is none to give
    (too many jobs, Graphviz failed or was too slow, or an SVG that is not safe)."""
    jobs = scheduler.statistics().total
    if jobs > PICTURE_MAX_JOBS or jobs == 0:
        return ""
    text = svg_text(scheduler, timeout=DOT_TIMEOUT)
    svg = None if text is None else safe_svg(text)
    if svg is None:
        logger.debug("nbjobs: no picture (Graphviz failed or its SVG was refused)")
        return ""
    return f'<div class="nbjobs-picture" style="overflow:auto;max-height:640px">{svg}</div>'
