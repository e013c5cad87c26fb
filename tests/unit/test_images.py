"""trip-duration publish-images: which files are uploaded, and the report's links rewritten to them.

CML is replaced by a small stand-in script that records its arguments and prints an https URL.
"""

import json
import shlex
import sys
from pathlib import Path

import pytest

from trip_duration.errors import InputError, run
from trip_duration_ops.images import images_to_publish, main, relink

REPO_URL = "https://github.com/owner/nyc-taxi-duration"
RECORDER = """import json, sys
from pathlib import Path
with open({log!r}, "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
print("Uploading...")
print("https://asset.example/" + Path(sys.argv[3]).name)
"""
FAILING = """import sys
print("Error: no token", file=sys.stderr)
print("  hint: set REPO_TOKEN", file=sys.stderr)
sys.exit(1)
"""


def stand_in(tmp_path: Path, code: str) -> str:
    """A --cml value that runs `code` with this Python."""
    script = tmp_path / "cml.py"
    script.write_text(code)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def image_folder(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in ("a-base.png", "a-pr.png", "b_1.svg", "odd name.png", "$(id).png", "x.txt"):
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" if name.endswith(".png") else b"<svg/>")
    (folder / "link.png").symlink_to(folder / "a-base.png")
    (folder / "sub.png").mkdir()
    return folder


def test_only_regular_files_with_plain_image_names_are_safe(tmp_path: Path) -> None:
    folder = image_folder(tmp_path / "images")
    safe, refused = images_to_publish(folder)
    assert [path.name for path in safe] == ["a-base.png", "a-pr.png", "b_1.svg"]
    assert [path.name for path in refused] == ["$(id).png", "link.png", "odd name.png", "sub.png", "x.txt"]
    assert images_to_publish(tmp_path / "missing") == ([], [])


def test_a_symlink_is_refused_even_to_a_safe_image_or_from_outside(tmp_path: Path) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    (tmp_path / "secret.png").write_bytes(b"not for the world")
    (folder / "plot.png").symlink_to(tmp_path / "secret.png")
    assert images_to_publish(folder) == ([], [folder / "plot.png"])


def test_relink_rewrites_plain_and_dot_slash_links_only() -> None:
    text = "![a](x.png) and ![b](./x.png), not ![c](dir/x.png) or ![d](x.png.bak) or x.png"
    assert relink(text, "x.png", "https://u/x.png") == (
        "![a](https://u/x.png) and ![b](https://u/x.png), not ![c](dir/x.png) or ![d](x.png.bak) or x.png"
    )


REPORT = """\
| main | PR |
| --- | --- |
| ![Errors: main](reports/pr-images/a-base.png) | ![Errors: PR](./reports/pr-images/a-pr.png) |

![Errors again](reports/pr-images/a-base.png) ![vector](reports/pr-images/b_1.svg)
![linked](reports/pr-images/link.png) ![odd](reports/pr-images/odd name.png)
"""


def test_main_uploads_each_safe_image_once_and_relinks_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.md"
    report.write_text(REPORT)
    folder = image_folder(tmp_path / "reports/pr-images")
    log = tmp_path / "cml.log"
    main([str(report), "--repo-url", REPO_URL, "--cml", stand_in(tmp_path, RECORDER.format(log=str(log)))])
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls == [
        ["asset", "publish", str(folder / name), f"--repo={REPO_URL}"]
        for name in ("a-base.png", "a-pr.png", "b_1.svg")
    ]
    assert report.read_text() == (
        REPORT.replace("./reports/pr-images/a-pr.png", "https://asset.example/a-pr.png")
        .replace("reports/pr-images/a-base.png", "https://asset.example/a-base.png")
        .replace("reports/pr-images/b_1.svg", "https://asset.example/b_1.svg")
    )
    assert capsys.readouterr() == (
        "publish-images: not publishing reports/pr-images/$(id).png\n"
        "publish-images: not publishing reports/pr-images/link.png\n"
        "publish-images: not publishing reports/pr-images/odd name.png\n"
        "publish-images: not publishing reports/pr-images/sub.png\n"
        "publish-images: not publishing reports/pr-images/x.txt\n"
        "publish-images: reports/pr-images/a-base.png published\n"
        "publish-images: reports/pr-images/a-pr.png published\n"
        "publish-images: reports/pr-images/b_1.svg published\n",
        "",
    )


def test_main_takes_the_image_folder_relative_to_the_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out/report.md"
    (tmp_path / "out/plots").mkdir(parents=True)
    (tmp_path / "out/plots/p.png").write_bytes(b"\x89PNG")
    report.write_text("![p](plots/p.png)\n")
    log = tmp_path / "cml.log"
    cml = stand_in(tmp_path, RECORDER.format(log=str(log)))
    main([str(report), "--images", "plots", "--repo-url", REPO_URL, "--cml", cml])
    assert report.read_text() == "![p](https://asset.example/p.png)\n"
    assert len(log.read_text().splitlines()) == 1
    assert capsys.readouterr().out == "publish-images: plots/p.png published\n"


def test_main_without_images_leaves_the_report_as_it_is(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text(REPORT)
    log = tmp_path / "cml.log"
    main([str(report), "--repo-url", REPO_URL, "--cml", stand_in(tmp_path, RECORDER.format(log=str(log)))])
    assert report.read_text() == REPORT
    assert not log.exists()


def test_a_failed_upload_is_one_line_naming_the_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.md"
    report.write_text(REPORT)
    folder = image_folder(tmp_path / "reports/pr-images")
    argv = [str(report), "--repo-url", REPO_URL, "--cml", stand_in(tmp_path, FAILING)]
    with pytest.raises(InputError) as raised:
        main(argv)
    assert (
        str(raised.value)
        == f"{folder / 'a-base.png'}: cml asset publish failed: Error: no token hint: set REPO_TOKEN"
    )
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        run(main, argv)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"error: {folder / 'a-base.png'}: cml asset publish failed: Error: no token hint: set REPO_TOKEN\n"
    )
    assert report.read_text() == REPORT  # nothing relinked


def test_an_upload_that_prints_no_https_url_fails(tmp_path: Path) -> None:
    report = tmp_path / "report.md"
    report.write_text("![p](reports/pr-images/p.png)\n")
    (tmp_path / "reports/pr-images").mkdir(parents=True)
    (tmp_path / "reports/pr-images/p.png").write_bytes(b"\x89PNG")
    cml = stand_in(tmp_path, "print('http://insecure.example/p.png')\n")
    with pytest.raises(InputError) as raised:
        main([str(report), "--repo-url", REPO_URL, "--cml", cml])
    assert str(raised.value) == (
        f"{tmp_path / 'reports/pr-images/p.png'}: cml asset publish failed: http://insecure.example/p.png"
    )
    assert report.read_text() == "![p](reports/pr-images/p.png)\n"
