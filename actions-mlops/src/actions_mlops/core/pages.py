"""The registry site's addresses: its pages' paths under site/ and, in GitHub Actions, the
project's GitHub Pages URL (https://<owner>.github.io/<repository>/, GitHub's default address;
a custom domain is not known here)."""

from __future__ import annotations

import os

INDEX_PAGE = "index.html"
DRIFT_PAGE = "drift.html"
HISTORY_PAGE = "history.html"


def version_page(version: str) -> str:
    """The page of one version, relative to the site's root."""
    return f"versions/{version}.html"


def pages_url(page: str = "") -> str | None:
    """The published address of `page`, in GitHub Actions only (None elsewhere)."""
    repository = os.environ.get("GITHUB_REPOSITORY", "")
    if os.environ.get("GITHUB_ACTIONS") != "true" or repository.count("/") != 1:
        return None
    owner, name = repository.split("/")
    if not owner or not name:
        return None
    return f"https://{owner.lower()}.github.io/{name}/{page}"
