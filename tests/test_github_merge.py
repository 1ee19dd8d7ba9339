"""pull_request runs check out the merge commit, as on GitHub.

GitHub runs a `pull_request` workflow on refs/pull/N/merge: the pull request's head merged into
its base branch's current tip ("Events that trigger workflows": GITHUB_SHA is the last merge
commit, GITHUB_REF refs/pull/N/merge). act hands the job the head instead; the checkout
stand-in (tests/actions/standin.py) makes the merge in origin as GitHub's server does. So once
the base moved, pr.yml's checks, gate and report are of what the merge would land, and a head
that conflicts with the base runs nothing.
"""

from __future__ import annotations

import pytest
from conftest import run
from test_github import Day, fast_params, pr_payload

pytestmark = [pytest.mark.github, pytest.mark.slow]


def test_a_pull_request_is_checked_as_merged_into_its_moved_base(tmp_path):
    """The PR improves the model (BLESSED on its own head); main then tightens the gate (a
    params.yaml key no stage reads, so no conflict): the run on the merge applies main's gate and
    fails there, its pipeline results still consistent (check-committed passes). Then main moves
    with a retrained model: both sides changed dvc.lock, the merge conflicts, nothing runs.
    On the old stand-in (the head checked out) the first run passed at the gate."""
    day = Day(tmp_path)
    fast_params(day)
    day.make("repro")
    base = day.commit("Initial project")
    day.git("push", "-q", "origin", "main")

    day.git("checkout", "-q", "-b", "better-model")
    day.edit_params(r"^(\s+C:) [\d.]+", r"\1 0.5")
    day.make("repro")
    head = day.commit("Stronger regularisation")
    day.git("push", "-q", "origin", "better-model")

    day.git("checkout", "-q", "main")
    day.edit_params(r"^(\s+log_loss:) \{ceiling: [\d.]+\}", r"\1 {ceiling: 0.001}")
    tip = day.commit("Gate: a log-loss ceiling no model here meets")
    day.git("push", "-q", "origin", "main")

    day.git("checkout", "-q", "better-model")
    pr = day.act("pull_request", "pr.yml", pr_payload(day, 7, "better-model", base), job="train")
    pr.report("merge: PR run after main moved")
    (checkout,) = [s for s in day.standins() if s["action"] == "actions/checkout"]
    merge = checkout["sha"]
    assert checkout["ref"] == "refs/pull/7/merge", checkout
    parents = run(["git", "rev-list", "--parents", "-n", "1", merge], day.origin).stdout.split()
    assert parents == [merge, tip, head], "not the merge of the head into main's tip"
    assert not pr.ok and pr.step("make repro") is True, pr.log[-6000:]
    assert pr.step("make gate") is False and "log_loss" in pr.log, pr.log[-6000:]
    assert pr.step("make report") is True and pr.step("make check-committed") is True

    # main retrains (a split seed): dvc.lock and the reports change on both sides.
    day.git("checkout", "-q", "main")
    day.edit_params(r"^(split:\n(?:  .*\n)*?  seed:) \d+", r"\1 7")
    day.make("repro")
    day.commit("Another split")
    day.git("push", "-q", "origin", "main")
    day.git("checkout", "-q", "better-model")
    since = len(day.standins())
    conflicted = day.act(
        "pull_request", "pr.yml", pr_payload(day, 7, "better-model", base), job="train"
    )
    conflicted.report("merge: PR that conflicts with main")
    assert not conflicted.ok and "runs no pull_request workflow" in conflicted.log
    assert "dvc.lock" in conflicted.log and conflicted.step("make repro") is None
    assert not [s for s in day.standins(since) if s["action"] == "actions/checkout"]
