#!/usr/bin/env python3
"""Restore drill for the one table: restore it into a new table, then check that the copy is usable.

    # In AWS (point-in-time recovery; the latest restorable time unless --time; or a named backup):
    python3 infra/restore_drill.py restore --source <TableName output> --target <new name> [--time 2026-12-03T10:00:00Z]
    python3 infra/restore_drill.py restore --source <table> --target <new name> --backup-arn arn:aws:dynamodb:...
    # Without PITR (DynamoDB Local, or a second account): scan the source and write it into a new table created with
    # the source's key schema and indexes (read from its DescribeTable):
    python3 infra/restore_drill.py copy --source <table> --target <new name>
    # Only the check (e.g. again after a while):
    python3 infra/restore_drill.py check --source <table> --target <new name> [--key 'PK|SK' ...]

`restore` waits until the new table is ACTIVE, turns on what a restore does not carry over (the TTL on expires_at,
point-in-time recovery, deletion protection), then checks. The check counts the items of each entity_type in both
tables and compares them, reads known keys (--key, and a few items of each entity type sampled from the source)
from the new table and compares them with the source, and verifies that every index of the source exists, ACTIVE,
on the new table. A point-in-time restore is a past state: with --allow-drift, count differences and changed
sampled items are reported but do not fail the check (a restore to an earlier time differs by design).

Exit status: 0 when the check passes, 1 when it fails, 2 on a usage or AWS error. Endpoints and credentials come
from the usual AWS variables (AWS_ENDPOINT_URL_DYNAMODB for DynamoDB Local). Needs boto3.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import sys
import time

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:
    sys.exit("restore_drill: needs boto3 (.local/moto-venv/bin/python has it, or .local/venv after "
             "`infra/local/bootstrap.sh sam`)")

TTL_ATTRIBUTE = "expires_at"
NO_TYPE = "(no entity_type)"


def log(msg: str) -> None:
    print(msg, flush=True)


# ---- restore (AWS) -------------------------------------------------------------------------------------------

def restore(ddb, source: str, target: str, when: dt.datetime | None, backup_arn: str | None) -> None:
    """Starts a point-in-time (or backup) restore of `source` into `target`."""
    if backup_arn:
        log(f"restoring backup {backup_arn} into {target}")
        ddb.restore_table_from_backup(TargetTableName=target, BackupArn=backup_arn)
    elif when:
        log(f"restoring {source} as of {when.isoformat()} into {target}")
        ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target, RestoreDateTime=when)
    else:
        log(f"restoring {source} at its latest restorable time into {target}")
        ddb.restore_table_to_point_in_time(SourceTableName=source, TargetTableName=target,
                                           UseLatestRestorableTime=True)


def wait_active(ddb, table: str, timeout: float, poll: float = 10.0) -> dict:
    """DescribeTable of `table` once it and its indexes are ACTIVE (a restore takes minutes to hours)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            desc = ddb.describe_table(TableName=table)["Table"]
        except ClientError as e:
            if e.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            desc = {"TableStatus": "CREATING"}
        indexes = [i.get("IndexStatus") for i in desc.get("GlobalSecondaryIndexes", [])]
        if desc["TableStatus"] == "ACTIVE" and all(s == "ACTIVE" for s in indexes):
            return desc
        if time.monotonic() > deadline:
            raise TimeoutError(f"{table} is still {desc['TableStatus']} after {timeout:.0f} s")
        log(f"  {table}: {desc['TableStatus']}, indexes {indexes or '-'}")
        time.sleep(poll)


def finish(ddb, table: str, pitr: bool = True, protect: bool = True) -> None:
    """What a restore does not carry over: the TTL, point-in-time recovery, deletion protection."""
    ttl = ddb.describe_time_to_live(TableName=table).get("TimeToLiveDescription", {})
    if ttl.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
        ddb.update_time_to_live(TableName=table,
                                TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        log(f"  TTL on {TTL_ATTRIBUTE} enabled")
    if pitr:
        ddb.update_continuous_backups(TableName=table,
                                      PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
        log("  point-in-time recovery enabled")
    if protect:
        ddb.update_table(TableName=table, DeletionProtectionEnabled=True)
        log("  deletion protection enabled")


# ---- copy (no PITR) ------------------------------------------------------------------------------------------

def create_like(ddb, source: dict, target: str) -> None:
    """Creates `target` with the key schema, attribute definitions, indexes and billing mode of `source`."""
    args = {
        "TableName": target,
        "AttributeDefinitions": source["AttributeDefinitions"],
        "KeySchema": source["KeySchema"],
        "BillingMode": (source.get("BillingModeSummary") or {}).get("BillingMode", "PAY_PER_REQUEST"),
    }
    if args["BillingMode"] == "PROVISIONED":
        args["ProvisionedThroughput"] = {k: source["ProvisionedThroughput"][k]
                                         for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
    gsis = []
    for index in source.get("GlobalSecondaryIndexes", []):
        gsi = {"IndexName": index["IndexName"], "KeySchema": index["KeySchema"], "Projection": index["Projection"]}
        if args["BillingMode"] == "PROVISIONED":
            gsi["ProvisionedThroughput"] = {k: index["ProvisionedThroughput"][k]
                                            for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        gsis.append(gsi)
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    lsis = [{"IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"]}
            for i in source.get("LocalSecondaryIndexes", [])]
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    ddb.create_table(**args)


def scan(ddb, table: str, **kwargs):
    """Every item of `table` (consistent reads), page by page."""
    paginator = ddb.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True, **kwargs):
        yield from page.get("Items", [])


def copy(ddb, source: str, target: str) -> int:
    """Writes every item of `source` into `target` (BatchWriteItem, unprocessed items retried)."""
    copied = 0
    batch: list[dict] = []

    def flush() -> None:
        pending = {target: [{"PutRequest": {"Item": item}} for item in batch]}
        delay = 0.05
        while pending:
            pending = ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if pending:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        batch.clear()

    for item in scan(ddb, source):
        batch.append(item)
        copied += 1
        if len(batch) == 25:
            flush()
    if batch:
        flush()
    return copied


# ---- check ---------------------------------------------------------------------------------------------------

def key_of(item: dict, key_names: list[str]) -> dict:
    return {k: item[k] for k in key_names}


def census(ddb, table: str, key_names: list[str], per_type: int) -> tuple[collections.Counter, dict]:
    """Items per entity_type in `table`, and up to `per_type` keys of each type (the first the scan meets)."""
    counts: collections.Counter = collections.Counter()
    samples: dict[str, list[dict]] = collections.defaultdict(list)
    names = {f"#k{i}": k for i, k in enumerate(key_names)}
    names["#t"] = "entity_type"
    projection = ", ".join([*(f"#k{i}" for i in range(len(key_names))), "#t"])
    for item in scan(ddb, table, ProjectionExpression=projection, ExpressionAttributeNames=names):
        kind = item.get("entity_type", {}).get("S", NO_TYPE)
        counts[kind] += 1
        if len(samples[kind]) < per_type:
            samples[kind].append(key_of(item, key_names))
    return counts, samples


def parse_key(text: str, key_names: list[str]) -> dict:
    parts = text.split("|", len(key_names) - 1)
    if len(parts) != len(key_names):
        raise ValueError(f"--key {text!r}: give {'|'.join(key_names)} (string attributes)")
    return {name: {"S": value} for name, value in zip(key_names, parts)}


def show(key: dict) -> str:
    return "|".join(next(iter(v.values())) for v in key.values())


def check(ddb, source: str, target: str, keys: list[str], per_type: int, allow_drift: bool) -> bool:
    """Compares `target` with `source`; prints what it found; True when usable."""
    src = ddb.describe_table(TableName=source)["Table"]
    dst = ddb.describe_table(TableName=target)["Table"]
    key_names = [k["AttributeName"] for k in src["KeySchema"]]
    problems: list[str] = []
    drift: list[str] = []

    if dst["TableStatus"] != "ACTIVE":
        problems.append(f"{target} is {dst['TableStatus']}")
    if dst["KeySchema"] != src["KeySchema"]:
        problems.append(f"key schema differs: {dst['KeySchema']} vs {src['KeySchema']}")
    dst_indexes = {i["IndexName"]: i for i in dst.get("GlobalSecondaryIndexes", [])}
    for index in src.get("GlobalSecondaryIndexes", []):
        found = dst_indexes.get(index["IndexName"])
        if found is None:
            problems.append(f"index {index['IndexName']} missing")
        elif found["KeySchema"] != index["KeySchema"] or found.get("IndexStatus", "ACTIVE") != "ACTIVE":
            problems.append(f"index {index['IndexName']}: {found['KeySchema']} {found.get('IndexStatus')}")

    src_counts, samples = census(ddb, source, key_names, per_type)
    dst_counts, _ = census(ddb, target, key_names, 0)
    log(f"{'entity_type':<32} {source[:20]:>20} {target[:20]:>20}")
    for kind in sorted(set(src_counts) | set(dst_counts)):
        a, b = src_counts.get(kind, 0), dst_counts.get(kind, 0)
        log(f"{kind:<32} {a:>20} {b:>20}{'' if a == b else '  <- differs'}")
        if a != b:
            drift.append(f"{kind}: {a} in the source, {b} in the copy")
    log(f"{'total':<32} {sum(src_counts.values()):>20} {sum(dst_counts.values()):>20}")

    wanted = [parse_key(k, key_names) for k in keys] + [k for ks in samples.values() for k in ks]
    for key in wanted:
        a = ddb.get_item(TableName=source, Key=key, ConsistentRead=True).get("Item")
        b = ddb.get_item(TableName=target, Key=key, ConsistentRead=True).get("Item")
        if b is None and a is not None:
            (drift if allow_drift else problems).append(f"{show(key)} missing from {target}")
        elif b is None:
            problems.append(f"{show(key)} is in neither table")
        elif a != b:
            drift.append(f"{show(key)} differs from the source")
    log(f"read {len(wanted)} known keys from {target}")

    if not allow_drift:
        problems += drift
    elif drift:
        log("differences (allowed: a restore to an earlier time):\n  " + "\n  ".join(drift))
    if problems:
        log("CHECK FAILED:\n  " + "\n  ".join(problems))
        return False
    log(f"CHECK PASSED: {target} holds the source's entity types and known items, with its indexes")
    return True


def next_steps(target: str) -> None:
    log(f"""
To run the functions against {target}: every function reads the table name from TABLE_NAME, which the template
sets to !Ref Table (its IAM statements name Table.Arn). The stack has no parameter to point it elsewhere, so:
  - a local run against the copy:  TABLE_NAME={target} <the function or `make dev` as usual>
  - in AWS, for an incident: set TABLE_NAME={target} on each function (aws lambda update-function-configuration
    --function-name <fn> --environment ...) and allow its role the new table's ARN (and /index/*); the next
    `sam deploy` puts them back on the stack's table, so bring the stack to the restored table by a
    CloudFormation resource import (Table is DeletionPolicy: Retain) before deploying again.""")


# ---- command line --------------------------------------------------------------------------------------------

def parse_time(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    for mode in ("restore", "copy", "check"):
        p = sub.add_parser(mode)
        p.add_argument("--source", required=True, help="the table to restore or copy (the TableName output)")
        p.add_argument("--target", required=True, help="the new table's name")
        p.add_argument("--key", action="append", default=[], help="a known key PK|SK to read back (repeatable)")
        p.add_argument("--sample", type=int, default=3, help="items of each entity_type read back (default 3)")
        p.add_argument("--allow-drift", action="store_true",
                       help="report, but do not fail on, differences in counts or sampled items")
        p.add_argument("--region", default=None)
        if mode == "restore":
            when = p.add_mutually_exclusive_group()
            when.add_argument("--time", type=parse_time, help="restore as of this UTC time (ISO 8601)")
            when.add_argument("--backup-arn", help="restore this on-demand backup instead of PITR")
            p.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait for ACTIVE")
            p.add_argument("--no-protect", action="store_true",
                           help="leave deletion protection off on the new table (a drill table to delete after)")
    args = parser.parse_args(argv)
    ddb = boto3.client("dynamodb", region_name=args.region)
    try:
        if args.mode == "restore":
            restore(ddb, args.source, args.target, args.time, args.backup_arn)
            wait_active(ddb, args.target, args.timeout)
            finish(ddb, args.target, protect=not args.no_protect)
        elif args.mode == "copy":
            source = ddb.describe_table(TableName=args.source)["Table"]
            create_like(ddb, source, args.target)
            wait_active(ddb, args.target, 600, poll=1.0)
            log(f"copied {copy(ddb, args.source, args.target)} items from {args.source} into {args.target}")
            finish(ddb, args.target, pitr=False, protect=False)
        ok = check(ddb, args.source, args.target, args.key, args.sample, args.allow_drift)
    except (ClientError, BotoCoreError, TimeoutError, ValueError) as e:
        print(f"restore_drill: {e}", file=sys.stderr)
        return 2
    if ok:
        next_steps(args.target)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
