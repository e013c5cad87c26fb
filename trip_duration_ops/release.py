"""Create the GitHub release of each model version registered at HEAD, with its model card.

    trip-duration release [--card reports/model-card.md] [--artifact trip-duration] [--site-url URL]

Run by main.yml after `trip-duration publish`, with `gh` authenticated (GH_TOKEN, GH_REPO).
With the project site's address (--site-url, else $SITE_URL), the notes link the version's page
there, as the card written with that address does already.
A version that already has a release is left as it is, so a rerun creates nothing twice.
Expected output:
    release: trip-duration@v0.1.1 created
    release: trip-duration@v0.1.0 exists already
"""

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from trip_duration.errors import InputError, run
from trip_duration_ops.card import version_page
from trip_duration_ops.registry import ARTIFACT


def tags_at_head(artifact: str) -> list[str]:
    done = subprocess.run(
        ["git", "tag", "--points-at", "HEAD", "--list", f"{artifact}@v*"], capture_output=True, text=True
    )
    if done.returncode:
        raise InputError("git tag", done.stderr.strip() or f"exit code {done.returncode}")
    return done.stdout.split()


def gh(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["gh", *args], capture_output=True, text=True)
    except FileNotFoundError:
        raise InputError("gh", "GitHub's CLI is not installed (it is on GitHub's runners)") from None


def notes_with_page(card: str, page: str) -> str:
    """The card, with a line linking the version's page unless it has it (or there is no page)."""
    return card if not page or page in card else f"{card.rstrip()}\n\nPage on the project site: {page}\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="trip-duration release", description=__doc__.splitlines()[0])
    parser.add_argument("--card", type=Path, default=Path("reports/model-card.md"), help="%(default)s")
    parser.add_argument("--artifact", default=ARTIFACT, help="%(default)s")
    parser.add_argument(
        "--site-url", default=os.environ.get("SITE_URL", ""), help="the project site: the notes link to it"
    )
    args = parser.parse_args(argv)
    tags = tags_at_head(args.artifact)
    if not tags:
        print(f"release: no {args.artifact} version at HEAD; nothing to release")
        return
    if not args.card.is_file():
        raise InputError(args.card, "missing: run trip-duration publish first")
    for tag in tags:
        if gh("release", "view", tag).returncode == 0:
            print(f"release: {tag} exists already")
            continue
        card = args.card.read_text(encoding="utf-8")
        notes = notes_with_page(card, version_page(args.site_url, tag.split("@", 1)[1]))
        with tempfile.TemporaryDirectory() as tmp:
            notes_file = args.card
            if notes != card:  # a card written without the site's address
                notes_file = Path(tmp) / "notes.md"
                notes_file.write_text(notes, encoding="utf-8")
            created = gh(
                "release", "create", tag, f"{args.card}#Model card", "--verify-tag",
                "--title", tag, "--notes-file", str(notes_file),
            )  # fmt: skip
        if created.returncode:
            raise InputError(f"gh release create {tag}", (created.stderr or created.stdout).strip())
        print(f"release: {tag} created")


if __name__ == "__main__":
    run(main)
