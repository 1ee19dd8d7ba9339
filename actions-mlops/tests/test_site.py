"""The registry site as a person looks at it: three versions, a promotion, a rollback and two
monitor runs (one drifted) in a scratch git repository with real GTO tags and real monitor
reports; `site` builds it, headless Chromium (Debian's package) renders each page, and the test
reads what it rendered: the version in each stage, one chart point per version, the drifted run,
every link, and accessibility: axe-core's WCAG 2 AA rules on each rendered page (contrast
computed by the browser), and lang, heading order, labelled charts and the palette's contrast
checked here.
Screenshots go to build/site-screenshots/."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from itertools import pairwise
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import pytest
from gto import api as gto

from actions_mlops import cli
from actions_mlops.core.config import (
    IMPORTANCE_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SLICES_FILE,
    load_params,
)
from actions_mlops.monitoring.monitor import LABEL_METRICS, assess
from actions_mlops.monitoring.reference import build_profile
from actions_mlops.release.promote import promote
from actions_mlops.release.registry import tag_message
from actions_mlops.release.report import site_lines
from actions_mlops.site import build as site_build
from actions_mlops.site.collect import MONITOR_HISTORY
from actions_mlops.training.metrics import direction
from conftest import TEMPLATE

SCREENSHOTS = TEMPLATE / "build" / "site-screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "<script>alert('tag')</script>"
PRIMARY_VALUES = {"v0.1.0": 0.80, "v0.2.0": 0.86, "v0.3.0": 0.84}


@dataclass
class Node:
    """One element of a rendered page."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)  # elements and text, in order

    def all(self, tag: str | None = None) -> list[Node]:
        found = [self] if tag in (None, self.tag) else []
        nodes = [child for child in self.children if isinstance(child, Node)]
        return found + [n for child in nodes for n in child.all(tag)]

    def find(self, **attrs: str) -> Node | None:
        return next((n for n in self.all() if attrs.items() <= n.attrs.items()), None)

    def content(self) -> str:
        parts = [c if isinstance(c, str) else c.content() for c in self.children]
        return " ".join(part for part in parts if part).strip()


class TreeBuilder(HTMLParser):
    """The page as a tree of Nodes (the standard library's parser)."""

    VOID: ClassVar[set[str]] = {"meta", "link", "br", "img", "hr", "input", "circle", "line"}

    def __init__(self) -> None:
        super().__init__()
        self.root = Node("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.stack[-1].children.append(data.strip())


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    return builder.root


def git(*args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout


def headless(profile: Path) -> list[str]:
    """Chromium without a display (as root: no sandbox), with its own profile folder."""
    flags = ["--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}"]
    return [CHROMIUM or "chromium", *flags]


def render(page: Path, profile: Path) -> Node:
    """The page's DOM as headless Chromium rendered it (the file itself without Chromium)."""
    if CHROMIUM is None:
        return parse(page.read_text(encoding="utf-8"))
    shown = subprocess.run(
        [*headless(profile), "--dump-dom", page.resolve().as_uri()],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return parse(shown.stdout)


def screenshot(page: Path, name: str, profile: Path) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = [f"--screenshot={SCREENSHOTS / name}", page.resolve().as_uri()]
    subprocess.run(
        [*headless(profile), "--hide-scrollbars", "--window-size=1100,1400", *shot],
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert (SCREENSHOTS / name).stat().st_size > 5000


def axe_script() -> str:
    """axe-core, the accessibility engine, as the PyPI package axe-selenium-python ships it
    (requirements-dev.txt); run here in headless Chromium without a WebDriver."""
    spec = importlib.util.find_spec("axe_selenium_python")
    assert spec and spec.origin, "axe-selenium-python is missing: make setup installs it"
    return (Path(spec.origin).parent / "node_modules" / "axe-core" / "axe.min.js").read_text()


def axe_violations(page: Path, profile: Path, script: str) -> list[dict]:
    """axe-core's WCAG 2 A/AA and best-practice violations on `page` as Chromium renders it (its
    CSS and layout: contrast is computed on the rendered colours)."""
    run_axe = (
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa', 'best-practice']})"
        ".then(r => { const out = document.createElement('pre'); out.id = 'axe-results';"
        " out.textContent = JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' '))}))); document.body.appendChild(out); });"
    )
    copy = page.with_name(f"axe-{page.name}")  # beside it: its stylesheet and links resolve
    html = page.read_text(encoding="utf-8")
    copy.write_text(html.replace("</body>", f"<script>{script}</script><script>{run_axe}</script>"))
    try:
        shown = subprocess.run(
            [*headless(profile), "--virtual-time-budget=10000", "--dump-dom", copy.as_uri()],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    finally:
        copy.unlink()
    results = parse(shown.stdout).find(id="axe-results")
    assert results is not None, f"axe-core did not run on {page}"
    return json.loads(results.content())


def luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one: str, other: str) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture
def registry(workdir: Path, messy) -> dict[str, str]:
    """Three versions, v0.1.0 then v0.2.0 promoted to prod, v0.3.0 to staging, then prod rolled
    back to v0.1.0; two monitor reports in the history folder, the second one drifted."""
    params = load_params()
    model, primary = params.registry.model, params.evaluate.primary
    data = params.data.raw
    data.parent.mkdir(parents=True, exist_ok=True)
    if not data.exists():
        data.write_text("x,y\n1,2\n")
    git("init", "-q", "-b", "main")
    git("config", "user.name", "T")
    git("config", "user.email", "t@example.com")
    for version, value in PRIMARY_VALUES.items():
        MODEL_FILE.parent.mkdir(parents=True, exist_ok=True)
        MODEL_FILE.write_text(f"model {version}")
        metrics = {
            "primary": primary,
            "test_rows": 100,
            "metrics": {
                primary: {"value": value, "ci_low": value - 0.04, "ci_high": value + 0.03},
                HOSTILE: {"value": 1.0, "ci_low": 1.0, "ci_high": 1.0},
            },
        }
        METRICS_FILE.parent.mkdir(parents=True, exist_ok=True)
        METRICS_FILE.write_text(json.dumps(metrics))
        importance = [
            {"feature": "size", "importance": value / 4, "std": 0.01},
            {"feature": HOSTILE, "importance": 0.01, "std": 0.002},
        ]
        IMPORTANCE_FILE.write_text(json.dumps(importance))
        groups = [{"value": "small", "rows": 60, primary: value - 0.01},
                  {"value": HOSTILE, "rows": 40, primary: value + 0.02}]  # fmt: skip
        SLICES_FILE.write_text(json.dumps({"size": groups}))
        git("add", "-A")
        git("commit", "-qm", f"model {version}")
        reason = HOSTILE if version == "v0.2.0" else "first version"
        gate = {"verdict": "BLESSED"}
        message = tag_message(model, version, reason, git("rev-parse", "HEAD").strip(), gate,
                              metrics, data)  # fmt: skip
        gto.register(".", model, "HEAD", version=version, message=message)
    promote("v0.1.0", "prod")
    promote("v0.2.0", "prod")
    promote("v0.3.0", "staging")
    promote("v0.1.0", "prod")  # the rollback

    frame, contract = messy(params.task, rows=2000, seed=1)
    importance = [{"feature": f, "importance": 1.0} for f in contract.features]
    profile = build_profile(frame, contract, importance)
    calm = frame.sample(500, random_state=3)
    shifted = frame.sample(500, random_state=4).copy()
    shifted["size"] = shifted["size"] + 2 * frame["size"].std()
    MONITOR_HISTORY.mkdir(parents=True)
    # The drifted run also has the batch's outcomes: the logged predictions are shuffled labels,
    # far below the champion's recorded test-set value of the first label metric.
    shifted["request_id"] = [f"r{i}" for i in range(len(shifted))]
    shifted["prediction"] = shifted["label"].sample(frac=1, random_state=0).to_numpy()
    metric = LABEL_METRICS[params.task][0]
    recorded = {"metrics": {metric: {"value": 0.99 if direction(metric) == "higher" else 0.01}}}
    labels = shifted[["request_id", "label"]]
    shifted = shifted.drop(columns="label")  # a log holds no outcomes: they come later
    runs = {
        "2026-12-01T06-17-00Z-run11": assess(calm, profile, params, contract),
        "2026-12-02T06-17-00Z-run12": assess(shifted, profile, params, contract, labels, recorded),
    }
    for name, report in runs.items():
        (MONITOR_HISTORY / f"{name}.json").write_text(json.dumps(report, default=str))
    return {"model": model, "prod": "v0.1.0", "staging": "v0.3.0", "primary": primary}


def test_the_site_shows_stages_metrics_history_and_drift(registry, tmp_path, capsys):
    assert cli.main(["site"]) == 0
    site, profile = Path("site"), tmp_path / "chromium"
    pages = sorted(site.rglob("*.html"))
    assert [p.relative_to(site).as_posix() for p in pages] == [
        "drift.html", "history.html", "index.html",
        "versions/v0.1.0.html", "versions/v0.2.0.html", "versions/v0.3.0.html",
    ]  # fmt: skip
    for page in pages:  # untrusted values are text, never markup
        assert "<script" not in page.read_text(encoding="utf-8"), page

    index = render(site / "index.html", profile)
    stages = {
        row.attrs["data-stage"]: row.find(**{"class": "stage-version"}).content()
        for row in index.all("tr")
        if "data-stage" in row.attrs
    }
    assert stages == {"prod": registry["prod"], "staging": registry["staging"]}
    out = capsys.readouterr().out
    assert "3 versions (stages: prod v0.1.0, staging v0.3.0), 2 monitor runs" in out
    assert "v0.3.0" in index.find(id="latest").content()
    assert "2026-12-02T06-17-00Z-run12" in index.find(id="last-monitor").content()
    chart = index.find(id="metric-chart")
    points = [g for g in chart.all("g") if "point" in g.attrs.get("class", "").split()]
    assert [p.attrs["data-label"] for p in points] == list(PRIMARY_VALUES)
    highlighted = [p.attrs["data-label"] for p in points if "highlight" in p.attrs["class"]]
    assert highlighted == [registry["prod"]]

    version = render(site / "versions" / "v0.2.0.html", profile)
    text = version.content()
    assert HOSTILE in text  # shown as text, in the metrics table and the registry entry
    assert "v0.1.0 (the champion when it was registered)" in text, text
    assert "+0.0600" in text and "BLESSED" in text
    importance = version.find(id="importance")
    assert importance is not None and "size 0.2150" in text  # most important first
    slices = version.find(**{"aria-labelledby": "slices"})  # the section the heading names
    assert slices is not None, text
    (table,) = [t for t in slices.all("table") if t.all("caption")[0].content() == "size"]
    rows = [row.content() for row in table.all("tr")][1:]
    assert rows == [f"small 60 {0.86 - 0.01:.4f}", f"{HOSTILE} 40 {0.86 + 0.02:.4f}"], rows

    history = render(site / "history.html", profile)
    rollbacks = [r for r in history.all("tr") if "rollback" in r.attrs.get("class", "")]
    assert len(rollbacks) == 1 and "v0.1.0" in rollbacks[0].content()

    drift = render(site / "drift.html", profile)
    runs = [r for r in drift.all("tr") if "run" in r.attrs.get("class", "").split()]
    assert [("drifted" in r.attrs["class"], r.attrs["data-verdict"]) for r in runs] == [
        (False, "ok"),
        (True, "alarm"),
    ]
    assert "no labels" in runs[0].content()
    dropped = runs[1].content()
    assert "⚠ dropped" in dropped and LABEL_METRICS[load_params().task][0] in dropped
    size_row = next(r for r in drift.all("tr") if r.content().startswith("size"))
    assert [c.attrs.get("class") for c in size_row.all("td")] == [None, "drifted"]

    for page in pages:  # every link resolves to a file of the site (or a fragment in it)
        tree = parse(page.read_text(encoding="utf-8"))
        links = [a.attrs["href"] for a in tree.all("a")] + [
            link.attrs["href"] for link in tree.all("link")
        ]
        for href in links:
            parts = urlsplit(href)
            assert not parts.scheme and not parts.netloc, f"{page}: {href} leaves the site"
            target = (page.parent / parts.path).resolve() if parts.path else page.resolve()
            assert target.is_file(), f"{page}: {href} leads nowhere"
            if parts.fragment:
                assert parse(target.read_text()).find(id=parts.fragment), f"{page}: {href}"
        assert_accessible(tree, page)

    css = (site / "style.css").read_text()
    for foreground, background in site_build.CONTRAST_PAIRS:
        colours = site_build.COLOURS
        assert f"--{foreground}: {colours[foreground]};" in css
        ratio = contrast(colours[foreground], colours[background])
        assert ratio >= 4.5, f"{foreground} on {background}: {ratio:.2f}"

    if CHROMIUM is None:
        reason = "chromium is not installed (apt-get install chromium): no axe, no screenshots"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    script = axe_script()
    for page in pages:
        assert axe_violations(page.resolve(), profile, script) == [], page
    for page, name in (("index.html", "overview.png"), ("versions/v0.2.0.html", "version.png")):
        screenshot(site / page, name, profile)
    screenshot(site / "drift.html", "drift.png", profile)


def test_the_pr_report_and_the_drift_issue_link_to_the_site(registry, monkeypatch, capsys):
    """In GitHub Actions: the report of a blessed change names the version its merge will make
    and links to that version's page; `site --drift-url` gives the drift issue its link."""
    if load_params().task != "classification":
        pytest.skip("the 'better' metrics below are a classifier's (higher is better)")
    primary = registry["primary"]
    better = {"primary": primary, "metrics": {primary: {"value": 0.95}}}
    gate = {"verdict": "BLESSED"}
    assert site_lines(registry["model"], gate, better) == []  # not in GitHub Actions
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "Example-Org/churn")
    (line, _) = site_lines(registry["model"], gate, better)
    page = "https://example-org.github.io/churn/versions/v0.4.0.html"
    assert f"`{registry['model']}@v0.4.0`" in line and f"[its page]({page})" in line
    assert site_lines(registry["model"], {"verdict": "NOT_BLESSED"}, better) == []
    assert cli.main(["site", "--drift-url"]) == 0
    assert capsys.readouterr().out == "https://example-org.github.io/churn/drift.html\n"


def assert_accessible(tree: Node, page: Path) -> None:
    """lang on the document, one h1 and no skipped heading level, every chart an image with a
    title and a description, every table column headed."""
    html = tree.all("html")[0]
    assert html.attrs.get("lang") == "en", page
    levels = [int(node.tag[1]) for node in tree.all() if node.tag in {f"h{n}" for n in range(1, 7)}]
    assert levels[0] == 1 and levels.count(1) == 1, f"{page}: headings {levels}"
    assert all(b - a <= 1 for a, b in pairwise(levels)), f"{page}: {levels}"
    for svg in tree.all("svg"):
        assert svg.attrs.get("role") == "img", page
        labels = svg.attrs.get("aria-labelledby", "").split()
        assert labels and all(svg.find(id=label) for label in labels), page
    for image in tree.all("img"):
        assert image.attrs.get("alt"), page
    for table in tree.all("table"):
        assert table.all("th"), f"{page}: a table without headers"


def test_a_project_without_git_or_versions_gets_a_site_that_says_so(workdir, capsys):
    """Before `git init` and the first registration: empty pages that say what to run."""
    assert cli.main(["site", "--output", "public"]) == 0
    assert "0 versions (stages: none), 0 monitor runs" in capsys.readouterr().out
    index = Path("public/index.html").read_text(encoding="utf-8")
    assert "No version registered yet." in index and "make register" in index
    assert "No monitor report kept yet" in Path("public/drift.html").read_text(encoding="utf-8")


def test_the_site_never_empties_the_project_or_a_folder_of_other_files(workdir, capsys):
    """`--output` is replaced whole: only a folder `site` built (or a new or empty one)."""
    Path("notes").mkdir()
    Path("notes/todo.txt").write_text("keep me")
    for output in (".", "..", "notes", "params.yaml"):
        assert cli.main(["site", "--output", output]) == 1
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(f"site: refused: --output {output}"), line
    assert Path("notes/todo.txt").read_text() == "keep me" and Path("params.yaml").is_file()
    assert cli.main(["site", "--output", "public"]) == 0  # new
    assert cli.main(["site", "--output", "public"]) == 0  # a site: rebuilt
