"""Automation conditions every location's assets use: one copy of a workaround for Dagster.

eager() remembers an upstream update until the target is "handled": requested or updated since
the previous tick. When both happen between two ticks (a file lands just after its day's asset
finished, or while that asset's run is queued), Dagster 1.13 applies the reset last and the
update is forgotten: the day stays without the new data (dagster-io/dagster#33587). With
``handled_unless_deps_updated_meanwhile`` a tick on which an upstream also updated does not count
as handled, so the update still triggers a run once the target's own run is over: at worst one
run too many, never a day left stale. tests/test_cross_location.py fails under plain eager().
"""

import dagster as dg

handled_unless_deps_updated_meanwhile = (
    (
        (dg.AutomationCondition.newly_requested() | dg.AutomationCondition.newly_updated())
        & ~dg.AutomationCondition.any_deps_updated()
    )
    | dg.AutomationCondition.initial_evaluation()
).with_label("handled_unless_deps_updated_meanwhile")


def eager_any_day() -> dg.AutomationCondition:
    """eager() for every partition, late days too (not only the latest time window), with the
    reset above: a day is materialized whenever what it reads lands or changes."""
    return (
        dg.AutomationCondition.eager()
        .without(dg.AutomationCondition.in_latest_time_window())
        .replace("handled", handled_unless_deps_updated_meanwhile)
    )
