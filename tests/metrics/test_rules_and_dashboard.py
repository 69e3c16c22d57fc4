"""The shipped alert rules and dashboard: `promtool check rules` and `promtool test rules` pass (the
rule tests fire the nonce-drift alert from a recorded drift, the lag alert from a stalled indexer,
and the stale-loop, old-outbox and scan-drop alerts), the dashboard is JSON Grafana loads, and every
metric either of them queries is one the service exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from prometheus_client import Counter, Gauge, Histogram

from registry.metrics import families

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules.yml"
DASHBOARD = DEPLOY / "grafana" / "twinmark.json"
NAME = re.compile(r"\btwinmark_[a-z_]+")


def exported() -> set[str]:
    """Every series name the families produce (a histogram's `_bucket`, `_count`, `_sum`)."""
    names: set[str] = set()
    for metric in vars(families).values():
        if isinstance(metric, Counter):
            names.add(metric._name + "_total")
        elif isinstance(metric, Histogram):
            names.update(metric._name + suffix for suffix in ("_bucket", "_count", "_sum"))
        elif isinstance(metric, Gauge):
            names.add(metric._name)
    return names


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    assert tool, "promtool missing: scripts/bootstrap.sh --with-prometheus installs Debian's prometheus"
    return subprocess.run([tool, *args], cwd=RULES.parent, capture_output=True, text=True, timeout=60)


def test_promtool_checks_the_rules() -> None:
    done = promtool("check", "rules", RULES.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 8 rules found" in done.stdout, done.stdout


def test_promtool_rule_tests_fire_the_alerts() -> None:
    done = promtool("test", "rules", "rules_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    tested = yaml.safe_load((RULES.parent / "rules_test.yml").read_text())
    fired = {t["alertname"] for case in tested["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert {
        "TwinmarkNonceDrift",
        "TwinmarkIndexerLag",
        "TwinmarkLoopStale",
        "TwinmarkOutboxOld",
        "TwinmarkPinsUnderReplicated",
    } <= fired


def test_a_broken_rule_test_fails(tmp_path: Path) -> None:
    """The rule tests can fail: a drift that lasts only one minute must not page."""
    tests = yaml.safe_load((RULES.parent / "rules_test.yml").read_text())
    tests["rule_files"] = [str(RULES)]
    tests["tests"][0]["input_series"][0]["values"] = "0 0 3 0 0 0 0"
    (tmp_path / "t.yml").write_text(yaml.safe_dump(tests))
    done = promtool("test", "rules", str(tmp_path / "t.yml"))
    assert done.returncode != 0 and "TwinmarkNonceDrift" in done.stdout + done.stderr


def test_rules_query_only_exported_metrics() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    used = {name for rule in rules for name in NAME.findall(rule["expr"])}
    assert used and used <= exported(), used - exported()


def test_dashboard_loads_and_queries_exported_metrics() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert board["title"] == "Twinmark" and board["uid"] == "twinmark"
    panels = board["panels"]
    assert len({p["id"] for p in panels}) == len(panels) >= 20
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    used = {name for expr in exprs for name in NAME.findall(expr)}
    assert used <= exported(), used - exported()
    # Every family has a panel (histograms through their buckets).
    families_used = {re.sub(r"_(bucket|count|sum)$", "", n) for n in used}
    families_all = {re.sub(r"_(bucket|count|sum)$", "", n) for n in exported()}
    assert families_all == families_used, families_all - families_used
