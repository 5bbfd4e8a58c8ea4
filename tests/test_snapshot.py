"""Each location's public surface, so an accidental rename fails loudly.

After an intended change: `UPDATE_SNAPSHOTS=1 make test-unit`, then review the diff of
tests/snapshots/ like code.
"""

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from locations import LOCATIONS, repository

SNAPSHOTS = Path(__file__).parent / "snapshots"


def _partitions(definition: dg.PartitionsDefinition | None) -> str | None:
    if definition is None:
        return None
    if isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return f"{definition.cron_schedule} {definition.timezone} from {definition.start:%Y-%m-%d}"
    return type(definition).__name__


def describe(name: str) -> dict[str, Any]:
    repo = repository(name)
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        assets[key.to_user_string()] = {
            "materializable": node.is_materializable,
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "checks": sorted(c.name for c in node.check_keys),
            "automation": condition.get_label() or type(condition).__name__ if condition else None,
        }
    blocking = sorted(
        f"{k.asset_key.to_user_string()}:{k.name}"
        for k in graph.asset_check_keys
        if graph.get(k).blocking
    )
    return {
        "assets": assets,
        "blocking_checks": blocking,
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {
            s.name: {
                "job": s.job_name,
                "cron": s.cron_schedule,
                "timezone": s.execution_timezone,
                "default_status": s.default_status.value,
            }
            for s in repo.schedule_defs
        },
        "sensors": {
            s.name: {
                "default_status": s.default_status.value,
                "minimum_interval_seconds": s.minimum_interval_seconds,
            }
            for s in repo.sensor_defs
        },
    }


@pytest.mark.parametrize("name", sorted(LOCATIONS))
def test_location_surface_matches_snapshot(name: str) -> None:
    current = json.dumps(describe(name), indent=2, sort_keys=True) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.write_text(current)
    assert path.exists(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 and review it"
    assert current == path.read_text(), (
        f"{name}'s definitions changed; if intended, regenerate {path} with UPDATE_SNAPSHOTS=1"
    )
