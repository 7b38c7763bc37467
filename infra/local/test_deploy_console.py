"""Tests of infra/deploy_console.py against moto (S3, CloudFront, CloudFormation) on a free port.

    .local/venv/bin/python -m unittest infra/local/test_deploy_console.py

Needs boto3 in the interpreter (.local/venv has it after `infra/local/bootstrap.sh sam`; .local/moto-venv always
has it) and moto (`infra/local/bootstrap.sh moto`).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "infra"))

try:
    import boto3
except ImportError:
    raise ImportError(f"{sys.executable} has no boto3: run `infra/local/bootstrap.sh sam` (boto3 in .local/venv) "
                      "or run these tests with .local/moto-venv/bin/python") from None

os.environ["DEPLOY_CONSOLE_NO_REEXEC"] = "1"
import deploy_console  # noqa: E402
import services  # noqa: E402

REGION = "us-east-1"
IMMUTABLE = "public, max-age=31536000, immutable"


def page(*assets: str) -> str:
    tags = "".join(f'<script type="module" crossorigin src="/{a}"></script>' if a.endswith(".js")
                   else f'<link rel="stylesheet" crossorigin href="/{a}">' for a in assets)
    return f'<!doctype html><html><head><link rel="icon" href="data:,">{tags}</head><body></body></html>'


def write_dist(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def build(tmp: Path, name: str, version: str, lazy: bool = True) -> Path:
    """A fake Vite build: index.html, its entry script and style, a lazily imported chunk (referenced only by
    the entry script), its source map, a public file and a dotfile that must not be uploaded."""
    files = {
        "index.html": page(f"assets/index-{version}.js", f"assets/index-{version}.css"),
        f"assets/index-{version}.js": f"import('./billing-{version}.js'); // {version}",
        f"assets/index-{version}.js.map": "{}",
        f"assets/index-{version}.css": "body{}",
        "favicon.svg": "<svg/>",
        ".DS_Store": "x",
    }
    if lazy:
        files[f"assets/billing-{version}.js"] = "export default 1"
    return write_dist(tmp / name, files)


class DeployConsoleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="deploy-console-")
        cls.moto = services.start_moto(log_dir=Path(cls.tmp.name))
        url = cls.moto.url
        cls.env = mock.patch.dict(os.environ, {
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(Path(cls.tmp.name) / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(Path(cls.tmp.name) / "none"),
            "AWS_ENDPOINT_URL_S3": url, "AWS_ENDPOINT_URL_CLOUDFRONT": url, "AWS_ENDPOINT_URL_CLOUDFORMATION": url,
        })
        cls.env.start()
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(var, None)
        cls.s3 = boto3.client("s3", region_name=REGION)
        cls.cloudfront = boto3.client("cloudfront", region_name=REGION)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.env.stop()
        cls.moto.stop()
        cls.tmp.cleanup()

    def setUp(self) -> None:
        self.work = Path(tempfile.mkdtemp(dir=self.tmp.name))
        self.bucket = f"console-{self.work.name.lower().replace('_', '-')}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.distribution_id = self.cloudfront.create_distribution(DistributionConfig={
            "CallerReference": self.bucket,
            "Comment": "test",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{
                "Id": "console", "DomainName": f"{self.bucket}.s3.{REGION}.amazonaws.com",
                "S3OriginConfig": {"OriginAccessIdentity": ""},
            }]},
            "DefaultCacheBehavior": {"TargetOriginId": "console", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        })["Distribution"]["Id"]

    def deploy(self, dist: Path, dry_run: bool = False) -> dict:
        return deploy_console.deploy(self.s3, self.cloudfront, self.bucket, self.distribution_id, dist,
                                     dry_run=dry_run, out=lambda _line: None)

    def keys(self) -> set[str]:
        return set(deploy_console.list_objects(self.s3, self.bucket))

    def invalidations(self) -> list[list[str]]:
        listed = self.cloudfront.list_invalidations(DistributionId=self.distribution_id)["InvalidationList"]
        return [self.cloudfront.get_invalidation(DistributionId=self.distribution_id, Id=i["Id"])
                ["Invalidation"]["InvalidationBatch"]["Paths"].get("Items", []) for i in listed.get("Items", [])]

    # ---------------------------------------------------------------------------------------------------------

    def test_uploads_with_content_types_and_cache_headers_index_last(self) -> None:
        dist = build(self.work, "v1", "aaa")
        order: list[str] = []
        handler = lambda params, **_: order.append(params["Key"])  # noqa: E731
        self.s3.meta.events.register("provide-client-params.s3.PutObject", handler)
        try:
            done = self.deploy(dist)
        finally:
            self.s3.meta.events.unregister("provide-client-params.s3.PutObject", handler)

        expected = {
            "index.html": ("text/html; charset=utf-8", "no-cache"),
            "favicon.svg": ("image/svg+xml", "no-cache"),
            "assets/index-aaa.js": ("text/javascript; charset=utf-8", IMMUTABLE),
            "assets/billing-aaa.js": ("text/javascript; charset=utf-8", IMMUTABLE),
            "assets/index-aaa.css": ("text/css; charset=utf-8", IMMUTABLE),
            "assets/index-aaa.js.map": ("application/json", IMMUTABLE),
        }
        self.assertEqual(self.keys(), set(expected), "every file but the dotfile")
        for key, (ctype, cache) in expected.items():
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
            self.assertEqual((head["ContentType"], head["CacheControl"]), (ctype, cache), key)
        body = self.s3.get_object(Bucket=self.bucket, Key="assets/index-aaa.js")["Body"].read()
        self.assertEqual(body, (dist / "assets/index-aaa.js").read_bytes())

        self.assertEqual(order, done["uploads"])
        self.assertEqual(order[-1], "index.html", "index.html is uploaded last")
        self.assertEqual(len(order), len(expected), "each file once")
        self.assertTrue(all(k.startswith("assets/") for k in order[:4]), f"assets first: {order}")

        meta = self.s3.head_object(Bucket=self.bucket, Key="index.html")["Metadata"]
        self.assertIn(deploy_console.STARTED_META, meta)
        self.assertEqual(self.invalidations(), [["/index.html"]])

    def test_prunes_files_older_than_the_previous_deploy(self) -> None:
        self.s3.put_object(Bucket=self.bucket, Key="assets/manual-old.js", Body=b"x")
        time.sleep(1.1)  # S3 dates objects in whole seconds
        first = self.deploy(build(self.work, "v1", "aaa"))
        self.assertEqual(first["deletes"], [], "the live index.html was not this script's: nothing pruned")
        self.assertIn("assets/manual-old.js", self.keys())

        time.sleep(1.1)
        second = self.deploy(build(self.work, "v2", "bbb"))
        self.assertEqual(second["deletes"], ["assets/manual-old.js"], "older than the previous deploy")
        keys = self.keys()
        self.assertTrue({"assets/index-aaa.js", "assets/billing-aaa.js", "assets/index-aaa.css"} <= keys,
                        "the previous deploy's files stay (open tabs load them, lazy chunks included)")
        self.assertTrue({"assets/index-bbb.js", "assets/billing-bbb.js"} <= keys)

        time.sleep(1.1)
        third = self.deploy(build(self.work, "v3", "ccc"))
        self.assertEqual(third["deletes"], sorted(["assets/index-aaa.js", "assets/index-aaa.js.map",
                                                   "assets/index-aaa.css", "assets/billing-aaa.js"]))
        keys = self.keys()
        self.assertFalse(any("aaa" in k for k in keys), keys)
        self.assertTrue({"assets/index-bbb.js", "assets/billing-bbb.js", "assets/index-ccc.js",
                         "index.html", "favicon.svg"} <= keys, keys)
        self.assertIn("ccc", self.s3.get_object(Bucket=self.bucket, Key="index.html")["Body"].read().decode())
        self.assertEqual(len(self.invalidations()), 3)

    def test_a_quick_redeploy_keeps_everything_it_cannot_date(self) -> None:
        self.deploy(build(self.work, "v1", "aaa"))
        self.deploy(build(self.work, "v2", "bbb"))
        third = self.deploy(build(self.work, "v3", "ccc"))  # within S3's one-second resolution: ties keep
        for key in third["deletes"]:
            self.assertNotIn("bbb", key, "the previous deploy's files are never deleted")

    def test_the_previous_pages_assets_are_kept_even_when_older(self) -> None:
        utc = deploy_console.dt.timezone.utc
        old = deploy_console.dt.datetime(2020, 1, 1, tzinfo=utc)
        existing = {"assets/index-aaa.js": old, "assets/other.js": old, "index.html": old, "new.js": old}
        started = deploy_console.dt.datetime(2024, 1, 1, tzinfo=utc)
        self.assertEqual(deploy_console.stale_objects(existing, {"new.js"}, started, {"assets/index-aaa.js"}),
                         ["assets/other.js"])
        self.assertEqual(deploy_console.stale_objects(existing, set(), None, set()), [], "no date, no pruning")

    def test_dry_run_changes_nothing(self) -> None:
        self.deploy(build(self.work, "v1", "aaa"))
        before = {k: self.s3.head_object(Bucket=self.bucket, Key=k)["ETag"] for k in self.keys()}
        puts: list[str] = []
        handler = lambda params, **_: puts.append(params["Key"])  # noqa: E731
        self.s3.meta.events.register("provide-client-params.s3.PutObject", handler)
        try:
            time.sleep(1.1)
            plan = self.deploy(build(self.work, "v2", "bbb"), dry_run=True)
        finally:
            self.s3.meta.events.unregister("provide-client-params.s3.PutObject", handler)
        self.assertEqual(puts, [])
        self.assertIn("assets/index-bbb.js", plan["uploads"])
        self.assertIsNone(plan["invalidation"])
        after = {k: self.s3.head_object(Bucket=self.bucket, Key=k)["ETag"] for k in self.keys()}
        self.assertEqual(before, after)
        self.assertEqual(len(self.invalidations()), 1, "only the real deploy's")

    def test_refuses_a_build_without_index_or_with_missing_assets(self) -> None:
        with self.assertRaisesRegex(deploy_console.DeployError, "make console"):
            self.deploy(write_dist(self.work / "empty", {"assets/a.js": ""}))
        broken = write_dist(self.work / "broken", {"index.html": page("assets/index-zzz.js")})
        with self.assertRaisesRegex(deploy_console.DeployError, "assets/index-zzz.js"):
            self.deploy(broken)
        self.assertEqual(self.keys(), set(), "nothing uploaded")

    def test_cli_reads_the_stack_outputs_and_warns_about_app_base_url(self) -> None:
        stack = f"stack-{self.bucket}"
        template = {
            "Parameters": {"AppBaseUrl": {"Type": "String", "Default": "https://app.monetization.example"}},
            "Resources": {"Placeholder": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"{stack}-x"}}},
            "Outputs": {
                "ConsoleBucketName": {"Value": self.bucket},
                "ConsoleDistributionId": {"Value": self.distribution_id},
                "ConsoleUrl": {"Value": "https://d111.cloudfront.net"},
            },
        }
        boto3.client("cloudformation", region_name=REGION).create_stack(StackName=stack,
                                                                         TemplateBody=json.dumps(template))
        dist = build(self.work, "cli", "ddd")
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            rc = deploy_console.main(["--stack-name", stack, "--region", REGION, "--dist", str(dist)])
        self.assertEqual(rc, 0, err.getvalue())
        self.assertIn("AppBaseUrl=https://d111.cloudfront.net", err.getvalue())
        self.assertIn("index-ddd.js", self.s3.get_object(Bucket=self.bucket, Key="index.html")["Body"].read().decode())

        # The script as a program, with explicit outputs (no CloudFormation call), dry run.
        proc = subprocess.run(
            [sys.executable, str(ROOT / "infra" / "deploy_console.py"), "--bucket", self.bucket,
             "--distribution-id", self.distribution_id, "--dist", str(dist), "--dry-run"],
            capture_output=True, text=True, timeout=60, env=os.environ.copy())
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("would upload index.html  [text/html; charset=utf-8; no-cache]", proc.stdout)
        self.assertIn(f"would invalidate /index.html on distribution {self.distribution_id}", proc.stdout)

        with redirect_stdout(io.StringIO()), redirect_stderr(err := io.StringIO()):
            rc = deploy_console.main(["--stack-name", "no-such-stack", "--region", REGION, "--dist", str(dist)])
        self.assertEqual(rc, 1)
        self.assertIn("no-such-stack", err.getvalue())

    def test_samconfig_stack_and_region(self) -> None:
        cfg = deploy_console.samconfig(ROOT / "samconfig.toml", "default")
        self.assertEqual(cfg, {"stack_name": "monetization", "region": "us-east-1"})
        self.assertEqual(deploy_console.samconfig(ROOT / "samconfig.toml", "prod")["stack_name"], "monetization-prod")
        self.assertEqual(deploy_console.samconfig(ROOT / "samconfig.toml", "nope"), {})

    def test_content_types(self) -> None:
        self.assertEqual(deploy_console.content_type("assets/x.woff2"), "font/woff2")
        self.assertEqual(deploy_console.content_type("robots.txt"), "text/plain; charset=utf-8")
        self.assertEqual(deploy_console.content_type("assets/x.unknownext"), "application/octet-stream")
        self.assertEqual(deploy_console.cache_control("assets/deep/x.png"), IMMUTABLE)
        self.assertEqual(deploy_console.cache_control("favicon.ico"), "no-cache")


if __name__ == "__main__":
    unittest.main()
