"""Upload a report's plot images with CML and point the report's links at the uploaded copies.

    trip-duration publish-images report.md --repo-url https://github.com/OWNER/REPO

Run by pr-comment.yml before `cml comment update --no-publish`: CML's own `--publish` would upload
every local file the markdown links to, and the markdown comes from a pull request. Only image
files under --images (plain names, no links) are uploaded, one by one, with `cml asset publish`.
"""

import argparse
import re
import shlex
import subprocess
from pathlib import Path

from trip_duration.errors import InputError, run
from trip_duration.files import write_text

IMAGE = re.compile(r"[A-Za-z0-9_.-]+\.(png|svg|jpg|jpeg)")
CML = "npx --yes @dvcorg/cml@0.20.6"


def images_to_publish(folder: Path) -> tuple[list[Path], list[Path]]:
    """(images safe to upload, files refused): regular files with plain image names only."""
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    safe = [path for path in files if not path.is_symlink() and path.is_file() and IMAGE.fullmatch(path.name)]
    return safe, [path for path in files if path not in safe]


def relink(text: str, image: str, url: str) -> str:
    """The markdown with every link to `image` (as written, or with ./) pointing at `url`."""
    for link in (f"]({image})", f"](./{image})"):
        text = text.replace(link, f"]({url})")
    return text


def publish(image: Path, repo_url: str, cml: str) -> str:
    command = [*shlex.split(cml), "asset", "publish", str(image), f"--repo={repo_url}"]
    done = subprocess.run(command, capture_output=True, text=True)
    url = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode or not url.startswith("https://"):
        raise InputError(image, f"cml asset publish failed: {(done.stderr or done.stdout).strip()}")
    return url


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration publish-images", description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the markdown report; rewritten in place")
    parser.add_argument("--images", default="reports/pr-images", help="relative to the report (%(default)s)")
    parser.add_argument("--repo-url", required=True, help="the repository's URL, for CML")
    parser.add_argument("--cml", default=CML, help="how to run CML (%(default)s)")
    args = parser.parse_args(argv)
    root = args.report.parent
    try:
        text = args.report.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            args.report, f"cannot read the report ({getattr(error, 'strerror', None) or error})"
        ) from None
    safe, refused = images_to_publish(root / args.images)
    for path in refused:
        print(f"publish-images: not publishing {path.relative_to(root)}")
    for path in safe:
        image = path.relative_to(root).as_posix()
        text = relink(text, image, publish(path, args.repo_url, args.cml))
        print(f"publish-images: {image} published")
    write_text(args.report, text)


if __name__ == "__main__":
    run(main)
