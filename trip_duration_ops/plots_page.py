"""The page `dvc plots show` and `dvc plots diff` fill: DVC's layout with Vega inside, so it draws offline.

DVC's default page loads vega, vega-lite and vega-embed from cdn.jsdelivr.net; offline it stays blank.
This one is DVC's page (dvc_render's PAGE_HTML) with vl-convert's bundle (it sets
`window.vegaEmbed`, which DVC's plot divs call) in place of `{scripts}`, so DVC adds no CDN tags.
`.dvc/config` names the committed copy (`plots.html_template`); after upgrading vl-convert, write it again:

    python -m trip_duration_ops.plots_page .dvc/plots.html
"""

import sys
from pathlib import Path

from dvc_render.html import PAGE_HTML

# DVC fills these; the bundle must contain none of them.
PLACEHOLDERS = ("{refresh_tag}", "{plot_divs}", "{scripts}")
CHARSET = '<meta charset="utf-8">'  # the bundle writes minus signs and ellipses (UTF-8) in labels


def page() -> str:
    """DVC's page with vl-convert's newest Vega-Lite 5 bundle inline: DVC's templates are Vega-Lite 5."""
    import vl_convert

    newest = max((v for v in vl_convert.get_vegalite_versions() if v.startswith("5.")), key=version)
    bundle = vl_convert.javascript_bundle(vl_version=newest)  # type: ignore[call-arg]  # stub lacks snippet's default
    clashes = [text for text in (*PLACEHOLDERS, "</script") if text in bundle.lower()]
    if clashes:  # DVC would fill the bundle's text, or the script would end early
        raise ValueError(f"vl-convert's bundle contains {clashes[0]}")
    # DVC's own page, its CDN tags replaced by the bundle.
    return PAGE_HTML.replace("<head>", f"<head>\n    {CHARSET}", 1).replace(
        "{scripts}", f"<script>{bundle}</script>"
    )


def version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(page(), encoding="utf-8")
