"""Tests of infra/restore_drill.py against DynamoDB Local on a free port (copy mode and the check: DynamoDB Local
has no point-in-time recovery, so `restore` itself is only run against AWS).

    .local/moto-venv/bin/python -m unittest infra/local/test_restore_drill.py

Needs boto3 and pyyaml in the interpreter (.local/moto-venv has both; .local/venv after
`infra/local/bootstrap.sh sam`) and DynamoDB Local (`infra/local/bootstrap.sh dynamodb`).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
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
    import yaml
except ImportError:
    raise ImportError(f"{sys.executable} lacks boto3 or pyyaml: run these tests with .local/moto-venv/bin/python "
                      "(or .local/venv after `infra/local/bootstrap.sh sam`)") from None

import restore_drill  # noqa: E402
import services  # noqa: E402

REGION = "us-east-1"


def template_table() -> dict:
    """The Table's literal properties in infra/template.yaml (the tests' tables are made from them)."""
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    doc = yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)
    return doc["Resources"]["Table"]["Properties"]


def s(value: str) -> dict:
    return {"S": value}


ITEMS = [
    {"PK": s("USER#u1"), "SK": s("PROFILE"), "entity_type": s("user"), "GSI1PK": s("EMAIL#a@x"), "GSI1SK": s("USER")},
    {"PK": s("USER#u2"), "SK": s("PROFILE"), "entity_type": s("user"), "GSI1PK": s("EMAIL#b@x"), "GSI1SK": s("USER")},
    {"PK": s("SUB#s1"), "SK": s("SUB"), "entity_type": s("subscription"), "GSI2PK": s("DUE"), "GSI2SK": s("2026")},
    {"PK": s("INV#i1"), "SK": s("INV"), "entity_type": s("invoice"), "amount": {"N": "11800"}},
    {"PK": s("COUNTER#x"), "SK": s("DAY#1"), "count": {"N": "3"}, "expires_at": {"N": "4102444800"}},
] + [{"PK": s(f"USAGE#c{i}"), "SK": s(f"DAY#{i:03}"), "entity_type": s("usage_day"), "used": {"N": str(i)}}
     for i in range(120)]  # more than one BatchWriteItem, and several entity types


class RestoreDrillTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.tmp = tempfile.TemporaryDirectory(prefix="restore-drill-")
        cls.dynamodb = services.start_dynamodb(log_dir=Path(cls.tmp.name))
        cls.env = mock.patch.dict(os.environ, {
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(Path(cls.tmp.name) / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(Path(cls.tmp.name) / "none"),
            "AWS_ENDPOINT_URL_DYNAMODB": cls.dynamodb.url,
        })
        cls.env.start()
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
            os.environ.pop(var, None)
        cls.ddb = boto3.client("dynamodb", region_name=REGION)
        props = template_table()
        cls.ddb.create_table(TableName="source", AttributeDefinitions=props["AttributeDefinitions"],
                             KeySchema=props["KeySchema"], GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
                             BillingMode=props["BillingMode"])
        for item in ITEMS:
            cls.ddb.put_item(TableName="source", Item=item)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.env.stop()
        cls.dynamodb.stop()
        cls.tmp.cleanup()

    def drill(self, *argv: str) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = restore_drill.main(list(argv))
        return code, out.getvalue() + err.getvalue()

    def test_copy_makes_a_table_like_the_source_and_the_check_passes(self) -> None:
        code, out = self.drill("copy", "--source", "source", "--target", "copy1", "--key", "INV#i1|INV")
        self.assertEqual(code, 0, out)
        self.assertIn(f"copied {len(ITEMS)} items", out)
        self.assertIn("CHECK PASSED", out)
        self.assertIn("TABLE_NAME=copy1", out)
        for kind, n in (("usage_day", 120), ("user", 2), ("subscription", 1), ("invoice", 1),
                        (restore_drill.NO_TYPE, 1)):
            self.assertRegex(out, rf"{kind.replace('(', '[(]').replace(')', '[)]')}\s+{n}\s+{n}\n")
        src = self.ddb.describe_table(TableName="source")["Table"]
        dst = self.ddb.describe_table(TableName="copy1")["Table"]
        self.assertEqual(dst["KeySchema"], src["KeySchema"])
        self.assertEqual(sorted((i["IndexName"], str(i["KeySchema"])) for i in dst["GlobalSecondaryIndexes"]),
                         sorted((i["IndexName"], str(i["KeySchema"])) for i in src["GlobalSecondaryIndexes"]))
        # The copy answers on its indexes like the source (the functions read by GSI1..GSI3).
        found = self.ddb.query(TableName="copy1", IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                               ExpressionAttributeValues={":p": s("EMAIL#b@x")})["Items"]
        self.assertEqual([i["PK"] for i in found], [s("USER#u2")])
        ttl = self.ddb.describe_time_to_live(TableName="copy1")["TimeToLiveDescription"]
        self.assertEqual(ttl.get("AttributeName"), "expires_at")

    def test_the_check_fails_on_a_missing_or_changed_item_unless_drift_is_allowed(self) -> None:
        code, out = self.drill("copy", "--source", "source", "--target", "copy2")
        self.assertEqual(code, 0, out)
        self.ddb.delete_item(TableName="copy2", Key={"PK": s("INV#i1"), "SK": s("INV")})
        self.ddb.put_item(TableName="copy2", Item={**ITEMS[0], "GSI1PK": s("EMAIL#changed")})

        code, out = self.drill("check", "--source", "source", "--target", "copy2")
        self.assertEqual(code, 1, out)
        self.assertIn("CHECK FAILED", out)
        self.assertIn("invoice: 1 in the source, 0 in the copy", out)
        self.assertIn("INV#i1|INV missing from copy2", out)
        self.assertIn("USER#u1|PROFILE differs from the source", out)
        self.assertNotIn("TABLE_NAME=", out)

        code, out = self.drill("check", "--source", "source", "--target", "copy2", "--allow-drift")
        self.assertEqual(code, 0, out)
        self.assertIn("differences (allowed", out)
        self.assertIn("CHECK PASSED", out)

    def test_the_check_fails_on_a_table_without_the_source_indexes(self) -> None:
        props = template_table()
        self.ddb.create_table(TableName="bare", AttributeDefinitions=props["AttributeDefinitions"][:2],
                              KeySchema=props["KeySchema"], BillingMode="PAY_PER_REQUEST")
        for item in ITEMS:
            self.ddb.put_item(TableName="bare", Item=item)
        code, out = self.drill("check", "--source", "source", "--target", "bare")
        self.assertEqual(code, 1, out)
        for index in ("GSI1", "GSI2", "GSI3"):
            self.assertIn(f"index {index} missing", out)

    def test_an_unknown_table_is_an_error_not_a_pass(self) -> None:
        code, out = self.drill("check", "--source", "source", "--target", "nowhere")
        self.assertEqual(code, 2, out)
        self.assertIn("restore_drill:", out)

    def test_a_malformed_key_is_refused(self) -> None:
        code, out = self.drill("check", "--source", "source", "--target", "source", "--key", "no-separator")
        self.assertEqual(code, 2, out)
        self.assertIn("give PK|SK", out)


if __name__ == "__main__":
    unittest.main()
