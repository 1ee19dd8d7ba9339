"""Site: `make site` writes a static site of the model registry into site/ for GitHub Pages.

Pages: index.html (the version in each stage, the latest version, the last monitor run, the
primary metric across versions with intervals), versions/<version>.html (metrics with intervals
against the champion it was compared with, gate verdict, registry entry, model card when
committed), history.html (registrations and stage assignments, rollbacks marked) and drift.html
(the monitor runs kept in reports/monitor-history/, drift per feature over time). No JavaScript,
nothing from a CDN; every value is escaped (tags and committed files are anyone's input); each
page's footer lists what it was read from.
"""

from __future__ import annotations

import argparse
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from actions_mlops.core import git
from actions_mlops.core.config import load_params
from actions_mlops.core.errors import StepError
from actions_mlops.core.pages import DRIFT_PAGE, HISTORY_PAGE, INDEX_PAGE, pages_url, version_page
from actions_mlops.site.charts import Point, interval_chart
from actions_mlops.site.collect import MONITOR_HISTORY, SAFE_NAME, Site, SiteVersion, read_site

SITE_DIR = Path("site")
# Text colour -> the background it is drawn on; every pair has a contrast of at least 4.5:1.
COLOURS = {
    "text": "#1b1f24",
    "background": "#ffffff",
    "panel": "#f3f4f6",
    "muted": "#555d66",
    "link": "#0b57d0",
    "ok": "#116329",
    "warn": "#7a4d00",
    "alarm": "#b3261e",
    "rule": "#d0d7de",
}
CONTRAST_PAIRS = [
    (fg, bg) for fg in ("text", "muted", "link", "ok", "warn", "alarm") for bg in ("background",)
] + [("text", "panel")]


def environment() -> Environment:
    """Jinja with autoescaping of every template (html and css alike)."""
    return Environment(
        loader=PackageLoader("actions_mlops.site", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def metric_chart(site: Site, primary: str) -> tuple[object, str]:
    """The primary metric across versions (lowest version first), and which way is better."""
    points, better = [], ""
    holder = site.stages.get(site.champion_stage)
    for shown in reversed(site.versions):
        metric = shown.metrics.get(primary)
        if metric is None:
            continue
        better = metric.better
        points.append(
            Point(shown.version, metric.value, metric.low, metric.high, shown.version == holder)
        )
    description = "; ".join(f"{p.label} {p.value:.4f} [{p.low:.4f}, {p.high:.4f}]" for p in points)
    title = f"{primary} of each version with its interval"
    return interval_chart(points, title, description, "metric-chart"), better


def release_url(tag: str) -> str | None:
    """The GitHub Release page of a tag, in GitHub Actions only."""
    server, repository = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if os.environ.get("GITHUB_ACTIONS") != "true" or not server or not repository:
        return None
    return f"{server}/{repository}/releases/tag/{tag}"


def check_output(output: Path) -> None:
    """Refuse to empty a folder that is not a site `make site` built: the project, one of its
    parents, or a folder holding other files (`--output` is replaced whole)."""
    here = Path.cwd().resolve()
    target = output.resolve()
    if target == here or target in here.parents:
        raise StepError(f"--output {output}: the project or a folder above it, not a site folder")
    if target.is_file() or (
        target.is_dir() and any(target.iterdir()) and not (target / INDEX_PAGE).is_file()
    ):
        raise StepError(f"--output {output} holds other files than a site: choose another folder")


def build(output: Path, monitor_folder: Path = MONITOR_HISTORY) -> Site:
    """Write the site into `output` (emptied first); returns what it showed."""
    registry = load_params().registry
    site = read_site(registry.model, registry.champion_stage, monitor_folder)
    for shown in site.versions:
        if not SAFE_NAME.match(shown.version):
            raise StepError(f"version {shown.version!r} cannot name a page")
    primary = next((v.primary for v in site.versions if v.primary), "")
    chart, better = metric_chart(site, primary)
    by_version: dict[str, SiteVersion] = {v.version: v for v in site.versions}
    common = {
        "site": site,
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "head": (git.head() or "no commit")[:12],
        "history_folder": monitor_folder.as_posix(),
    }
    check_output(output)
    if output.exists():
        shutil.rmtree(output)
    (output / "versions").mkdir(parents=True)
    env = environment()

    def write(template: str, path: str, root: str, **values: object) -> None:
        pages = {version: root + version_page(version) for version in by_version}
        text = env.get_template(template).render(common, root=root, pages=pages, **values)
        (output / path).write_text(text, encoding="utf-8")

    (output / "style.css").write_text(
        env.get_template("style.css.j2").render(colours=COLOURS), encoding="utf-8"
    )
    write("index.html.j2", INDEX_PAGE, "", chart=chart, primary=primary, better=better)
    write("history.html.j2", HISTORY_PAGE, "")
    columns = sorted({column for run in site.runs for column in run.drift})
    write("drift.html.j2", DRIFT_PAGE, "", columns=columns)
    for shown in site.versions:
        champion = by_version.get(shown.champion or "")
        write(
            "version.html.j2",
            shown.page,
            "../",
            v=shown,
            champion=champion,
            release_url=release_url(shown.entry.tag),
        )
    return site


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `site`."""
    parser.add_argument("--output", type=Path, default=SITE_DIR, help="default: site/")
    parser.add_argument(
        "--monitor-history",
        type=Path,
        default=MONITOR_HISTORY,
        help=f"folder of kept monitor reports (default: {MONITOR_HISTORY})",
    )
    parser.add_argument(
        "--drift-url",
        action="store_true",
        help="print the drift page's GitHub Pages address (in GitHub Actions; else nothing)",
    )


def main(args: argparse.Namespace) -> int:
    """CLI entry: build the site and say what it holds (--drift-url: only print that)."""
    if args.drift_url:
        print(pages_url(DRIFT_PAGE) or "")
        return 0
    site = build(args.output, args.monitor_history)
    stages = ", ".join(f"{stage} {version}" for stage, version in site.stages.items()) or "none"
    print(
        f"site: {args.output}/index.html: {len(site.versions)} versions (stages: {stages}), "
        f"{len(site.runs)} monitor runs"
    )
    url = pages_url()
    if url:
        print(f"site: published at {url} once deployed")
    return 0
