"""The monitor's traces on GitHub: `drift-issue` (the one open issue labelled model-drift, with
reports/monitor.md), `start-retrain` (retrain.yml dispatched on the release branch unless a
retrain/... pull request is open; a refused `gh pr list` — a job without `pull-requests: read`
on a private repository — fails in one line instead of skipping the check) and
`monitor-history` (monitor.yml's kept reports, for the site)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from actions_mlops.core.config import load_params
from actions_mlops.core.outputs import job_summary
from actions_mlops.core.pages import DRIFT_PAGE, pages_url
from actions_mlops.github.shell import annotate, run, shown

LABEL = "model-drift"
HISTORY = Path("reports/monitor-history")
ARTIFACT = "monitor-report"  # monitor.yml's artifact of reports/monitor.json (kept 90 days)


def gh(*args: str) -> tuple[int, str]:
    """gh with these arguments: its exit status and output; its errors passed through."""
    done = run("gh", *args)
    sys.stderr.write(done.stderr)
    return done.returncode, done.stdout


def drift_issue() -> int:
    """Open, or update, the one open issue labelled model-drift with reports/monitor.md."""
    labelled = ("label", "create", LABEL, "--color", "B60205", "--force")
    status, _ = gh(*labelled, "--description", "Production data drifted")
    if status:
        return status
    body = Path("reports/monitor.md").read_text(encoding="utf-8")
    url = pages_url(DRIFT_PAGE)
    if url:
        body += f"\nDrift over time, per feature: {url} (the registry site, site.yml)\n"
    path = Path(os.environ.get("RUNNER_TEMP") or "/tmp") / "drift-issue.md"
    path.write_text(body, encoding="utf-8")
    listed = ("issue", "list", "--label", LABEL, "--state", "open", "--json", "number")
    status, text = gh(*listed)
    if status:
        return status
    numbers = [str(issue["number"]) for issue in json.loads(text or "[]")]
    if numbers:
        status, _ = gh("issue", "edit", numbers[0], "--body-file", str(path))
        if not status:
            print(f"make drift-issue: updated #{numbers[0]}")
        return status
    title = f"Model drift alarm: {load_params().registry.model}"
    created = ("issue", "create", "--title", title, "--label", LABEL, "--body-file", str(path))
    status, text = gh(*created)
    sys.stdout.write(text)
    return status


def monitor_history(runs: int) -> int:
    """Download the recent completed monitor runs' reports into reports/monitor-history/, as
    <time>-run<id>.json (make site reads them); a run without the report is skipped."""
    HISTORY.mkdir(parents=True, exist_ok=True)
    fields = "databaseId,createdAt,status"
    listed = ("run", "list", "--workflow", "monitor.yml", "--limit", str(runs), "--json", fields)
    status, text = gh(*listed)
    if status:
        return status
    temp = Path(os.environ.get("RUNNER_TEMP") or "/tmp")
    for entry in json.loads(text or "[]"):
        if entry.get("status") != "completed":
            continue
        number, created = entry["databaseId"], str(entry["createdAt"]).replace(":", "-")
        target = HISTORY / f"{created}-run{number}.json"
        folder = temp / f"monitor-run-{number}"
        if not target.is_file():
            wanted = ("--name", ARTIFACT, "--dir", str(folder))
            got = run("gh", "run", "download", str(number), *wanted)
            if got.returncode == 0 and (folder / "monitor.json").is_file():
                shutil.move(folder / "monitor.json", target)
        shutil.rmtree(folder, ignore_errors=True)
    kept = len(list(HISTORY.rglob("*.json")))
    print(f"make monitor-history: {kept} monitor reports in reports/monitor-history/")
    return 0


def start_retrain(reason: str) -> int:
    """Start retrain.yml on the release branch, unless a retrain pull request is open."""
    listed = run(
        "gh", "pr", "list", "--state", "open", "--limit", "200", "--json", "number,headRefName"
    )
    if listed.returncode:
        said = (listed.stderr.strip().splitlines() or ["no answer"])[-1]
        annotate(
            "error",
            "Retraining not started",
            f"gh pr list failed ({said}): the job needs `pull-requests: read` to see "
            "whether a retrain pull request is open",
        )
        return 1
    open_ = [
        p["number"]
        for p in json.loads(listed.stdout or "[]")
        if str(p.get("headRefName", "")).startswith("retrain/")
    ]
    if open_:
        why = f"retrain pull request #{open_[0]} is still open: review or close it first"
        print(f"start-retrain: skipped: {why}")
        job_summary(f"Retraining not started: {why}.\n")
        return 0
    branch = load_params().registry.branch
    started = run("gh", "workflow", "run", "retrain.yml", "--ref", branch, "-f", f"reason={reason}")
    return shown(started).returncode
