#!/usr/bin/env python3
"""Deploys the web console (console/dist, built by `make console`) to the stack's bucket and CloudFront.

    python3 infra/deploy_console.py [--config-env prod | --stack-name NAME] [--region R] [--dry-run]
    python3 infra/deploy_console.py --bucket BUCKET --distribution-id ID [--dry-run]   (no CloudFormation call)

Reads the stack's outputs (ConsoleBucketName, ConsoleDistributionId, ConsoleUrl; the stack name and region from
samconfig.toml, as `sam deploy` does), then:

1. uploads every file of the build (files and folders whose name starts with "." excepted) with its
   Content-Type and Cache-Control: assets/* (content-hashed names) `public, max-age=31536000, immutable`,
   everything else `no-cache` (revalidated on every load, so a new deploy is seen at once). index.html is
   uploaded last, so the live page never refers to an asset that is not there yet;
2. deletes what is left of older deploys: an object that is not part of this build, is older than the start of
   the previous deploy (recorded on index.html) and is not referenced by the previous index.html. The previous
   deploy's files stay, so tabs opened before this deploy keep loading their scripts (lazy chunks included);
3. invalidates /index.html on the distribution (every console route is served index.html).

Every deploy uploads every file again: that is what dates the previous deploy's files (step 2).
`--dry-run` reads the bucket and prints what would be uploaded, deleted and invalidated, changing nothing.

Needs boto3 and AWS credentials. boto3: `infra/local/bootstrap.sh sam` installs it into .local/venv (this
script re-runs itself with that interpreter when the one it was started with lacks boto3), or `pip install
boto3`. AWS_ENDPOINT_URL_S3 / _CLOUDFRONT / _CLOUDFORMATION point it elsewhere (infra/local/
test_deploy_console.py runs it against moto).
"""

from __future__ import annotations

import argparse
import datetime as dt
import mimetypes
import os
import re
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".local" / "venv" / "bin" / "python"

try:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError
except ImportError:  # started with a python that lacks boto3: re-run with the project venv's
    if VENV_PYTHON.exists() and Path(sys.prefix).resolve() != VENV_PYTHON.parents[1].resolve() \
            and not os.environ.get("DEPLOY_CONSOLE_NO_REEXEC"):
        os.environ["DEPLOY_CONSOLE_NO_REEXEC"] = "1"
        os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), *sys.argv])
    sys.exit("deploy_console: boto3 is missing: run `infra/local/bootstrap.sh sam` (installs it into .local/venv) "
             "or `pip install boto3`")

INDEX = "index.html"
ASSETS = "assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"
# User metadata on index.html: when the deploy that uploaded it began (S3's clock), and its id.
STARTED_META = "deploy-started"
ID_META = "deploy-id"
# The same types as the local gateway (infra/local/gateway.py, CONSOLE_TYPES), and a few more.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".map": "application/json",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".wasm": "application/wasm",
}
# What index.html refers to under assets/ (src="/assets/index-<hash>.js", href="/assets/index-<hash>.css").
ASSET_REF = re.compile(r"""["'(=]\s*(?:\.?/)?(assets/[^"'()\s?#>]+)""")


class DeployError(RuntimeError):
    """A deploy that cannot go on (message meant for a human)."""


@dataclass(frozen=True)
class Upload:
    key: str
    path: Path
    content_type: str
    cache_control: str


def content_type(name: str) -> str:
    ext = Path(name).suffix.lower()
    if ext in CONTENT_TYPES:
        return CONTENT_TYPES[ext]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


def cache_control(key: str) -> str:
    return IMMUTABLE if key.startswith(ASSETS) else NO_CACHE


def asset_refs(html: str) -> set[str]:
    """The assets/* keys a page refers to."""
    return set(ASSET_REF.findall(html))


def plan_uploads(dist: Path) -> list[Upload]:
    """Every file of the build in upload order: assets/* first, then the other files, index.html last."""
    if not (dist / INDEX).is_file():
        raise DeployError(f"{dist / INDEX} is missing: build the console first (`make console`)")
    files = []
    for path in sorted(dist.rglob("*")):
        rel = path.relative_to(dist)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        key = rel.as_posix()
        files.append(Upload(key, path, content_type(key), cache_control(key)))
    keys = {u.key for u in files}
    missing = sorted(asset_refs((dist / INDEX).read_text(encoding="utf-8")) - keys)
    if missing:
        raise DeployError(f"{dist / INDEX} refers to files the build lacks: {', '.join(missing)}")
    rank = {True: 0, False: 1}
    return sorted(files, key=lambda u: (u.key == INDEX, rank[u.key.startswith(ASSETS)], u.key))


def list_objects(s3, bucket: str) -> dict[str, dt.datetime]:
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            objects[obj["Key"]] = obj["LastModified"]
    return objects


def previous_deploy(s3, bucket: str) -> tuple[dt.datetime | None, set[str]]:
    """When the deploy of the live index.html began (None when unknown) and the assets it refers to."""
    try:
        obj = s3.get_object(Bucket=bucket, Key=INDEX)
    except ClientError as e:
        if e.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            return None, set()
        raise
    refs = asset_refs(obj["Body"].read().decode("utf-8", errors="replace"))
    started = obj.get("Metadata", {}).get(STARTED_META)
    try:
        return (dt.datetime.fromisoformat(started) if started else None), refs
    except ValueError:
        return None, refs


def whole_seconds(t: dt.datetime) -> dt.datetime:
    return t.replace(microsecond=0)


def stale_objects(existing: dict[str, dt.datetime], new_keys: set[str], started: dt.datetime | None,
                  previous_refs: set[str]) -> list[str]:
    """Objects to delete: not in this build, not referenced by the previous index.html, and older than the
    previous deploy's start (compared in whole seconds, S3's precision: a tie keeps the object). Nothing when
    the previous deploy's start is unknown (its index.html was not uploaded by this script)."""
    if started is None:
        return []
    return sorted(
        key for key, modified in existing.items()
        if key not in new_keys and key != INDEX and key not in previous_refs
        and whole_seconds(modified) < whole_seconds(started)
    )


def deploy(s3, cloudfront, bucket: str, distribution_id: str | None, dist: Path, dry_run: bool = False,
           out=print) -> dict:
    """Uploads dist, prunes, invalidates. Returns what it did (or would do): uploads, deletes, invalidation."""
    uploads = plan_uploads(dist)
    existing = list_objects(s3, bucket)
    started_before, previous_refs = previous_deploy(s3, bucket)
    stale = stale_objects(existing, {u.key for u in uploads}, started_before, previous_refs)
    deploy_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(4)
    verb = "would " if dry_run else ""
    out(f"deploy {deploy_id}: {len(uploads)} files from {dist} to s3://{bucket}" + (" (dry run)" if dry_run else ""))

    started: dt.datetime | None = None
    for u in uploads:
        out(f"  {verb}upload {u.key}  [{u.content_type}; {u.cache_control}]")
        if dry_run:
            continue
        extra = {}
        if u.key == INDEX:
            # The first upload's time on S3's clock (no local clock skew) dates this deploy for the next one.
            extra["Metadata"] = {STARTED_META: (started or dt.datetime.now(dt.timezone.utc)).isoformat(),
                                 ID_META: deploy_id}
        with u.path.open("rb") as body:
            s3.put_object(Bucket=bucket, Key=u.key, Body=body, ContentType=u.content_type,
                          CacheControl=u.cache_control, **extra)
        if started is None:
            started = s3.head_object(Bucket=bucket, Key=u.key)["LastModified"]

    if started_before is None and existing:
        out("  nothing pruned: the live index.html does not say when its deploy began (not uploaded by this "
            "script); the next deploy prunes")
    for key in stale:
        out(f"  {verb}delete {key}  (last modified {existing[key].isoformat()})")
    if stale and not dry_run:
        for i in range(0, len(stale), 1000):
            resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in stale[i:i + 1000]],
                                                            "Quiet": True})
            if resp.get("Errors"):
                raise DeployError(f"could not delete: {resp['Errors']}")

    invalidation = None
    if distribution_id:
        out(f"  {verb}invalidate /{INDEX} on distribution {distribution_id}")
        if not dry_run:
            resp = cloudfront.create_invalidation(
                DistributionId=distribution_id,
                InvalidationBatch={"Paths": {"Quantity": 1, "Items": [f"/{INDEX}"]}, "CallerReference": deploy_id},
            )
            invalidation = resp["Invalidation"]["Id"]
            out(f"  invalidation {invalidation} created")
    else:
        out("  no distribution id: nothing invalidated")
    return {"uploads": [u.key for u in uploads], "deletes": stale, "invalidation": invalidation,
            "deploy_id": deploy_id}


# ---------------------------------------------------------------------------------------------------------------
# configuration: samconfig.toml and the stack
# ---------------------------------------------------------------------------------------------------------------


def samconfig(path: Path, env: str) -> dict[str, str]:
    """stack_name and region of a samconfig.toml environment (its deploy parameters over its global ones)."""
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        return {}
    with path.open("rb") as f:
        doc = tomllib.load(f)
    section = doc.get(env, {})
    found: dict[str, str] = {}
    for command in ("global", "deploy"):
        params = section.get(command, {}).get("parameters", {})
        for name in ("stack_name", "region"):
            if isinstance(params.get(name), str):
                found[name] = params[name]
    return found


def stack_info(cloudformation, stack_name: str) -> tuple[dict[str, str], dict[str, str]]:
    """The stack's outputs and parameters."""
    try:
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as e:
        raise DeployError(f"stack {stack_name}: {e.response.get('Error', {}).get('Message', e)}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return outputs, params


def app_base_url_warning(outputs: dict[str, str], params: dict[str, str], config_env: str) -> str | None:
    """The functions' APP_BASE_URL (the AppBaseUrl parameter) must be the console's URL; a warning if not."""
    console, app = outputs.get("ConsoleUrl", "").rstrip("/"), params.get("AppBaseUrl", "").rstrip("/")
    if not console or not app or console == app:
        return None
    env = "" if config_env == "default" else f" --config-env {config_env}"
    return (f"warning: the stack's AppBaseUrl is {app}, not the console's URL {console}: payment returns and the "
            f"links in emails point elsewhere, and the asset bucket's CORS refuses the console. Deploy with "
            f"`sam deploy{env} --parameter-overrides AppBaseUrl={console}` (add TokenPublicKeys=... if the JWKS "
            f"is not set yet).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack-name", help="the stack (default: samconfig.toml's stack_name)")
    parser.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    parser.add_argument("--config-file", type=Path, default=ROOT / "samconfig.toml")
    parser.add_argument("--region", help="AWS region (default: samconfig.toml's, else the AWS configuration's)")
    parser.add_argument("--bucket", help="the console bucket (with --distribution-id: no CloudFormation call)")
    parser.add_argument("--distribution-id", help="the console distribution")
    parser.add_argument("--dist", type=Path, default=ROOT / "console" / "dist", help="the build (console/dist)")
    parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    args = parser.parse_args(argv)

    config = samconfig(args.config_file, args.config_env)
    region = args.region or config.get("region") or None
    session = boto3.session.Session(region_name=region)
    bucket, distribution_id = args.bucket, args.distribution_id
    try:
        if not (bucket and distribution_id):
            stack_name = args.stack_name or config.get("stack_name")
            if not stack_name:
                raise DeployError(f"no stack name: pass --stack-name (or --bucket and --distribution-id); "
                                  f"{args.config_file} has none for environment {args.config_env!r}")
            outputs, params = stack_info(session.client("cloudformation"), stack_name)
            bucket = bucket or outputs.get("ConsoleBucketName")
            distribution_id = distribution_id or outputs.get("ConsoleDistributionId")
            if not bucket or not distribution_id:
                raise DeployError(f"stack {stack_name} has no ConsoleBucketName / ConsoleDistributionId output: "
                                  f"deploy infra/template.yaml first (`sam deploy`)")
            warning = app_base_url_warning(outputs, params, args.config_env)
            if warning:
                print(warning, file=sys.stderr)
        deploy(session.client("s3"), session.client("cloudfront"), bucket, distribution_id, args.dist,
               dry_run=args.dry_run)
    except DeployError as e:
        print(f"deploy_console: {e}", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as e:
        print(f"deploy_console: AWS: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
