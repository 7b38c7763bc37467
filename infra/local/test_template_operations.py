"""What infra/template.yaml must keep for operating the stack: every function's log group with the retention
parameter, its error-line metric filter and its alarms; alarms that say what to do and notify AlarmTopic; the
table's and the buckets' safety settings; a dashboard that shows every function. A function added without them
fails here.

    .local/venv/bin/python -m unittest infra/local/test_template_operations.py
"""

from __future__ import annotations

import json
import re
import sys
import unittest
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway import CfnLoader  # noqa: E402  (short-form tags in their long form: !Ref X -> {"Ref": "X"})

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


def load() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)  # noqa: S506 (SafeLoader subclass)


def cfn(**intrinsic) -> dict:
    """An intrinsic function as the loader makes it: cfn(Ref="X"), cfn(Sub="...") -> {"Fn::Sub": "..."}."""
    return {(k if k in ("Ref", "Condition") else f"Fn::{k}"): v for k, v in intrinsic.items()}


DOC = load()
RESOURCES: dict = DOC["Resources"]


def of_type(kind: str) -> dict[str, dict]:
    return {name: r for name, r in RESOURCES.items() if r["Type"] == kind}


FUNCTIONS = of_type("AWS::Serverless::Function")
ALARMS = of_type("AWS::CloudWatch::Alarm")


def http(function: dict) -> bool:
    return any(e["Type"] == "HttpApi" for e in function["Properties"].get("Events", {}).values())


def refs(value) -> set[str]:
    """Every resource a value refers to (Ref, GetAtt, ${X} in Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for fn, arg in value.items():
            if fn == "Ref":
                found.add(arg)
            elif fn == "Fn::GetAtt":
                found.add(arg[0])
            elif fn == "Fn::Sub":
                text = arg if isinstance(arg, str) else arg[0]
                found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text)}
                if not isinstance(arg, str):
                    found |= refs(arg[1])
            else:
                found |= refs(arg)
    elif isinstance(value, list):
        for v in value:
            found |= refs(v)
    return found


def alarms_on(resource: str, metric: str | None = None) -> list[str]:
    """The alarms whose metrics refer to `resource` (and, if given, read `metric`)."""
    out = []
    for name, alarm in ALARMS.items():
        props = alarm["Properties"]
        if resource not in refs(props.get("Dimensions")) | refs(props.get("Metrics")) | refs(props.get("Namespace")):
            continue
        text = json.dumps([props.get("MetricName"), props.get("Metrics")], default=str)
        if metric is None or re.search(rf"\b{metric}\b", text):
            out.append(name)
    return out


class TemplateOperationsTest(unittest.TestCase):
    def test_every_function_has_a_log_group_with_the_retention_parameter_and_an_error_line_filter(self) -> None:
        self.assertGreaterEqual(len(FUNCTIONS), 8)
        groups = of_type("AWS::Logs::LogGroup")
        filters = of_type("AWS::Logs::MetricFilter")
        for fn in FUNCTIONS:
            with self.subTest(fn):
                group = [g for g, r in groups.items()
                         if r["Properties"]["LogGroupName"] == cfn(Sub=f"/aws/lambda/${{{fn}}}")]
                self.assertEqual(len(group), 1, f"{fn}: one log group named /aws/lambda/${{{fn}}}")
                self.assertEqual(groups[group[0]]["Properties"]["RetentionInDays"], cfn(Ref="LogRetentionDays"))
                mine = [r["Properties"] for r in filters.values()
                        if r["Properties"]["LogGroupName"] == cfn(Ref=group[0])]
                self.assertEqual(len(mine), 1, f"{fn}: one metric filter on its log group")
                self.assertIn('$.level = "ERROR"', mine[0]["FilterPattern"])

    def test_every_function_has_an_errors_alarm_and_every_http_function_a_throttles_alarm(self) -> None:
        for fn, function in FUNCTIONS.items():
            with self.subTest(fn):
                self.assertTrue(alarms_on(fn, "Errors"), f"{fn}: no alarm reads its Errors")
                if http(function):
                    self.assertTrue(alarms_on(fn, "Throttles"), f"{fn}: no alarm reads its Throttles")
        self.assertTrue(alarms_on("BillingFunction", "AsyncEventsDropped"))
        self.assertTrue(alarms_on("UsageFunction", "Latency"))
        self.assertTrue(alarms_on("Api", "5xx"))
        self.assertTrue(alarms_on("Table", "SystemErrors"))
        self.assertTrue(alarms_on("Table", "ThrottledRequests"))

    def test_every_alarm_says_what_to_do_treats_missing_data_and_notifies_the_topic(self) -> None:
        for name, alarm in ALARMS.items():
            with self.subTest(name):
                props = alarm["Properties"]
                self.assertGreater(len(props.get("AlarmDescription", "")), 80, "a runbook sentence")
                self.assertIn(props.get("TreatMissingData"), ("notBreaching", "breaching", "ignore", "missing"))
                self.assertEqual(props.get("AlarmActions"), [cfn(Ref="AlarmTopic")])
                self.assertEqual(props.get("OKActions"), [cfn(Ref="AlarmTopic")])
        email = RESOURCES["AlarmEmailSubscription"]
        self.assertEqual(email["Condition"], "AlarmEmailSet")
        self.assertEqual(email["Properties"]["TopicArn"], cfn(Ref="AlarmTopic"))

    def test_the_table_is_recoverable_and_protected(self) -> None:
        table = RESOURCES["Table"]
        self.assertEqual((table["DeletionPolicy"], table["UpdateReplacePolicy"]), ("Retain", "Retain"))
        props = table["Properties"]
        self.assertIs(props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], True)
        self.assertIs(props["DeletionProtectionEnabled"], True)

    def test_every_bucket_is_versioned_with_lifecycle_rules_and_invoices_never_expire(self) -> None:
        buckets = of_type("AWS::S3::Bucket")
        self.assertGreaterEqual(len(buckets), 3)
        for name, bucket in buckets.items():
            with self.subTest(name):
                props = bucket["Properties"]
                self.assertEqual(props["VersioningConfiguration"]["Status"], "Enabled")
                rules = props["LifecycleConfiguration"]["Rules"]
                self.assertTrue(all(r["Status"] == "Enabled" for r in rules))
                self.assertIn(7, [r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
                                  for r in rules])
                self.assertTrue(any("NoncurrentVersionExpiration" in r for r in rules))
                self.assertEqual(bucket["DeletionPolicy"], "Retain")
        for rule in buckets["InvoiceBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]:
            self.assertNotIn("ExpirationInDays", rule)
            self.assertNotIn("ExpirationDate", rule)
            if "NoncurrentVersionExpiration" in rule:
                self.assertGreaterEqual(rule["NoncurrentVersionExpiration"]["NoncurrentDays"], 8 * 365)

    def test_the_dashboard_is_json_and_shows_every_function_the_api_and_the_table(self) -> None:
        body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
        self.assertTrue(widgets)
        for name in [*FUNCTIONS, "Api", "Table"]:
            self.assertIn(f"${{{name}}}", body, f"the dashboard does not show {name}")
        for metric in ("Invocations", "Errors", "Duration", "4xx", "5xx", "Latency", "ConsumedWriteCapacityUnits",
                       "ThrottledRequests"):
            self.assertIn(f'"{metric}', body)

    def test_alarms_and_widgets_on_the_functions_metrics_name_what_the_code_emits(self) -> None:
        """The EMF alarms (webhook refusals, dead letters, billing step failures, track-usage's latency) read
        metrics the code defines (shared/src/platform/metrics.rs: names and namespace), with the dimensions it
        writes."""
        code = (TEMPLATE.parents[1] / "shared" / "src" / "platform" / "metrics.rs").read_text()
        namespace = re.search(r'pub const NAMESPACE: &str = "([^"]+)"', code).group(1)
        names = set(re.findall(r'pub const [A-Z_]+: &str = "([A-Z][A-Za-z]+)";', code))
        self.assertTrue({"Requests", "TrackEvents", "WebhookEvents", "Notifications", "BillingSteps"} <= names)
        expected = {
            "WebhookRefusalsAlarm": (["StripeWebhookFunction", "PhonePeWebhookFunction"], "WebhookEvents", "'refused'"),
            "DeadLetteredNotificationsAlarm": (["BillingFunction"], "DeadLetters", "Maximum"),
            "UsageLatencyP99Alarm": (["UsageFunction"], "Latency", "/api/track-usage"),
            "BillingStepFailuresAlarm": (["BillingFunction"], "BillingSteps", "'failed'"),
        }
        for alarm, (functions, metric, outcome) in expected.items():
            with self.subTest(alarm=alarm):
                for fn in functions:
                    self.assertIn(alarm, alarms_on(fn, metric))
                props = ALARMS[alarm]["Properties"]
                text = json.dumps(props, default=str)
                self.assertIn(outcome, text)
                self.assertTrue(props.get("Namespace") == namespace or f'SCHEMA(\\"{namespace}\\"' in text, text)
        # Every EMF metric the template reads is one the code writes.
        body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        read = set(re.findall(r"SEARCH\('\{Marketplace,[^}]*\}[^']*MetricName=\\\"(\w+)\\\"", body))
        read |= set(re.findall(r'\["Marketplace", "([A-Za-z]+)"', body))
        for alarm in expected:
            props = ALARMS[alarm]["Properties"]
            read |= set(re.findall(r"SUM\((\w+)\)", json.dumps(props.get("Metrics"), default=str)))
            read |= {props["MetricName"]} if "MetricName" in props else set()
        self.assertTrue(read, "no EMF metric read")
        self.assertLessEqual(read, names, f"not written by the code: {read - names}")
        for metric in ("TrackEvents", "QuotaThresholdCrossed", "WebhookEvents", "Payments", "Refunds", "BillingSteps",
                       "BillingJobs", "Notifications", "Requests", "Latency", "ColdStart"):
            self.assertIn(metric, read, f"the dashboard does not show {metric}")


if __name__ == "__main__":
    unittest.main()
