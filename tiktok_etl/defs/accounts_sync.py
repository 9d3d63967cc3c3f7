"""Keep a dynamic partition dimension in step with the table it mirrors: the ``account``
dimension with ``tiktok_accounts`` here (the listening queries reuse :func:`sync_result`)."""

import dagster as dg

from tiktok_etl.defs.partitions import ACCOUNTS_PARTITIONS_NAME
from tiktok_etl.defs.resources import TikTokConnectorResource


def partition_changes(
    table_keys: set[str], partition_keys: set[str]
) -> tuple[list[str], list[str]]:
    """Keys to add and to delete. Disabled or re-auth accounts keep their partitions (their
    history stays browsable); only accounts removed from the table lose theirs."""
    return sorted(table_keys - partition_keys), sorted(partition_keys - table_keys)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Adds an `account` partition per row of tiktok_accounts, removes deleted ones.",
)
def tiktok_accounts_sync_sensor(
    context: dg.SensorEvaluationContext, tiktok: TikTokConnectorResource
) -> dg.SensorResult | dg.SkipReason:
    table_keys = {a.account_key for a in tiktok.services().accounts.list()}
    return sync_result(context, ACCOUNTS_PARTITIONS_NAME, table_keys, "accounts")


def sync_result(
    context: dg.SensorEvaluationContext, partitions: str, table_keys: set[str], noun: str
) -> dg.SensorResult | dg.SkipReason:
    """The requests that make the dynamic ``partitions`` equal ``table_keys`` (the rows of
    the table they mirror), or a skip naming how many ``noun`` are already in step."""
    existing = set(context.instance.get_dynamic_partitions(partitions))
    add, delete = partition_changes(table_keys, existing)
    if not add and not delete:
        return dg.SkipReason(f"{len(table_keys)} {noun}, partitions already in step")
    requests: list[dg.AddDynamicPartitionsRequest | dg.DeleteDynamicPartitionsRequest] = []
    if add:
        requests.append(dg.AddDynamicPartitionsRequest(partitions, add))
    for key in delete:
        requests.append(dg.DeleteDynamicPartitionsRequest(partitions, [key]))
    return dg.SensorResult(dynamic_partitions_requests=requests)
