"""Pages in a real browser, offline: Debian's Chromium driven by Playwright (no Playwright download).

    from tests.e2e.browser import Browser

    with Browser() as browser:
        seen = browser.visit(project / "dvc_plots" / "index.html", "dvc-plots", charts=6)
    assert seen.console_errors == [] and seen.outside_requests == []
    assert seen.charts == 6

`visit(target, name, charts=0, site=None, then=None)` opens `target` (a file, or an http://127.0.0.1
URL), waits
for the load event and for the page's vega charts to draw (at least `charts` of them, and every
`.vega-embed` on the page), writes a full-page screenshot to `test-output/screenshots/<name>.png`
at the repository root, and returns a `Visit`:
- `console_errors`: console messages of type error and uncaught page errors, one line each;
- `outside_requests`: every URL requested outside the site (aborted, never fetched). The site is
  `site` (default: the folder of a file target) for file:// URLs, the target's origin for http;
  `data:`, `blob:` and `about:` URLs are the page's own;
- `charts`: vega charts drawn (a `.vega-embed` holding vega's canvas or svg; empty data draws too);
- `screenshot`: the PNG written;
- `result`: what `then(page)` returned, where given: it runs once the charts drew and before the
  screenshot (clicks, typing, reading the page), so the screenshot shows what it left.
One Browser serves any number of visits; each visit gets a fresh context (no shared cache).
"""

import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
# Debian's package (Playwright's own browser download does not work offline); $CHROMIUM names
# another build, as on GitHub's Ubuntu runners, whose Chrome is /usr/bin/google-chrome.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Nothing in the background (updates, sync, component downloads) reaches for the network.
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OWN_SCHEMES = ("data", "blob", "about")
# Drawn charts: vega-embed marks its container, and vega draws into a canvas or an svg of class
# "marks" (of zero size where the data has no rows).
DRAWN = """() => document.querySelectorAll(
    '.vega-embed canvas.marks, .vega-embed svg.marks').length"""
ALL_DRAWN = f"""min => {{
    const drawn = ({DRAWN})();
    return drawn >= min && drawn === document.querySelectorAll('.vega-embed').length;
}}"""


@dataclass
class Visit:
    url: str
    screenshot: Path
    charts: int = 0
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    result: Any = None


def is_inside(url: str, site: str) -> bool:
    """`url` belongs to `site`: a folder (file:// URLs under it) or an origin (scheme://host:port)."""
    parts = urlsplit(url)
    if parts.scheme in OWN_SCHEMES:
        return True
    if parts.scheme == "file":
        return Path(url2pathname(parts.path)).resolve().is_relative_to(site)
    return f"{parts.scheme}://{parts.netloc}" == site


class Browser:
    """Headless Chromium for the length of a `with` block."""

    def __init__(self, timeout_ms: int = 30_000) -> None:
        self.timeout_ms = timeout_ms

    def __enter__(self) -> "Browser":
        self.playwright = sync_playwright().start()
        try:
            self.browser = self.playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except BaseException:
            self.playwright.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.browser.close()
        self.playwright.stop()

    def visit(
        self,
        target: Path | str,
        name: str,
        charts: int = 0,
        site: Path | None = None,
        then: Callable[[Page], Any] | None = None,
    ) -> Visit:
        """Open `target`, wait for it and its charts, screenshot it as `name`; see the module doc."""
        if isinstance(target, Path):
            url, site = target.resolve().as_uri(), (site or target.parent).resolve()
        else:
            url = target
        parts = urlsplit(url)
        home = str(site) if parts.scheme == "file" else f"{parts.scheme}://{parts.netloc}"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        seen = Visit(url, SCREENSHOTS / f"{name}.png")
        context = self.browser.new_context(viewport={"width": 1400, "height": 900})
        context.route(lambda found: not is_inside(found, home), lambda route: route.abort())

        def on_request(request: Request) -> None:
            if not is_inside(request.url, home):
                seen.outside_requests.append(request.url)

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                where = message.location
                seen.console_errors.append(f"{message.text} ({where.get('url')}:{where.get('lineNumber')})")

        try:
            page = context.new_page()
            page.set_default_timeout(self.timeout_ms)
            page.on("request", on_request)
            page.on("console", on_console)
            page.on(
                "pageerror",
                lambda error: seen.console_errors.append(f"uncaught {error.name}: {error.message}"),
            )
            page.goto(url, wait_until="load")
            with suppress(PlaywrightTimeout):  # the test asserts on the count; the screenshot shows what drew
                page.wait_for_function(ALL_DRAWN, arg=charts)
            seen.charts = page.evaluate(DRAWN)
            if then is not None:
                seen.result = then(page)
            page.screenshot(path=seen.screenshot, full_page=True)
        finally:
            context.close()
        return seen
