"""The docs as site pages: README.md and docs/*.md as committed, rendered by markdown-it-py.

Relative links between them are rewritten from .md to .html (the README becomes docs/index.html),
so the same Markdown reads on GitHub and on the site.
"""

import re
from typing import Any

from trip_duration_ops.site.gitdata import Blobs

LINK = re.compile(r'href="(?!https?:|mailto:|#)([^"#]*?)\.md(#[^"]*)?"')


def rewrite(html: str, from_readme: bool) -> str:
    """Links to Markdown files become links to their pages (README.md -> index.html)."""

    def page(match: re.Match[str]) -> str:
        target, anchor = match.group(1), match.group(2) or ""
        name = target.rsplit("/", 1)[-1]
        return f'href="{"index" if name == "README" else name}.html{anchor}"'

    if from_readme:
        html = re.sub(r'href="docs/', 'href="', html)
    return LINK.sub(page, html)


def title_of(text: str, fallback: str) -> str:
    found = re.search(r"^# (.+)$", text, re.M)
    return found.group(1).strip() if found else fallback


def render(text: str) -> str:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.anchors import anchors_plugin

    # headings get GitHub's ids, so that links like serving.md#deploying land on the heading
    return (
        MarkdownIt("commonmark", {"html": False})
        .enable("table")
        .use(anchors_plugin, max_level=6)
        .render(text)
    )


def pages(blobs: Blobs, rev: str) -> list[dict[str, Any]]:
    """README.md as `index`, then every docs/*.md, each with its title and HTML."""
    found = []
    readme = blobs.read(rev, "README.md")
    html = rewrite(render(readme), True) if readme is not None else "<p>No README.md at this commit.</p>"
    found.append({"name": "index", "title": "Overview", "html": html})
    for name in sorted(blobs.names(rev, "docs")):
        text = blobs.read(rev, f"docs/{name}")
        if name.endswith(".md") and text is not None:
            stem = name.removesuffix(".md")
            found.append({"name": stem, "title": title_of(text, stem), "html": rewrite(render(text), False)})
    return found
