"""The page DVC fills for `dvc plots show|diff`: committed as the code writes it, and named in .dvc/config."""

from configobj import ConfigObj
from conftest import ROOT

from trip_duration_ops.plots_page import page


def test_the_committed_page_is_what_plots_page_writes() -> None:
    # A vl-convert upgrade changes the bundle: write it again (python -m trip_duration_ops.plots_page).
    assert (ROOT / ".dvc" / "plots.html").read_text(encoding="utf-8") == page()


def test_dvc_config_names_the_page_and_dvc_adds_no_scripts() -> None:
    config = ConfigObj(str(ROOT / ".dvc" / "config"))
    assert config["plots"]["html_template"] == "plots.html"  # relative to .dvc/, as DVC reads it
    text = page()
    assert text.count("{plot_divs}") == text.count("{refresh_tag}") == 1
    assert "{scripts}" not in text and "<script src" not in text
    assert "window.vegaEmbed=" in text
