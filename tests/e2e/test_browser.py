"""The browser harness sees what a page does: script errors, requests leaving the site, drawn charts."""

from pathlib import Path

from tests.e2e.browser import Browser

PAGE = """<!DOCTYPE html><html><head>
<script src="https://cdn.example.invalid/vega.js"></script>
<script src="../outside.js"></script>
<script src="inside.js"></script>
</head><body><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">
<script>console.error("boom"); console.warn("only a warning"); throw new Error("bad");</script>
</body></html>"""


def test_errors_and_outside_requests_are_collected(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "inside.js").write_text("window.inside = true;\n")
    (tmp_path / "outside.js").write_text("window.outside = true;\n")
    (site / "index.html").write_text(PAGE)
    with Browser() as browser:
        seen = browser.visit(site / "index.html", "harness-self-test")
    outside = {"https://cdn.example.invalid/vega.js", (tmp_path / "outside.js").as_uri()}
    assert set(seen.outside_requests) == outside  # and both aborted: neither loads
    assert sorted(seen.console_errors) == sorted(
        [f"Failed to load resource: net::ERR_FAILED ({url}:0)" for url in outside]
        + [f"boom ({(site / 'index.html').as_uri()}:5)", "uncaught Error: bad"]
    )
    assert seen.charts == 0
    assert seen.screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
