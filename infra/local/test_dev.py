"""Tests of dev.py's local schedules (the template's ScheduleV2 events run through the invoke endpoint).

    .local/venv/bin/python -m unittest infra/local/test_dev.py      (run by `make test` and `make lint`)
"""

from __future__ import annotations

import calendar
import json
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import dev  # noqa: E402


def utc(text: str) -> float:
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M")))


class ScheduleTest(unittest.TestCase):
    def test_rate_expressions(self) -> None:
        self.assertEqual(dev.Schedule("s", "b", "rate(5 minutes)", "{}").next_after(100.0), 400.0)
        self.assertEqual(dev.Schedule("s", "b", "rate(1 hour)", "{}").next_after(0.0), 3600.0)
        self.assertEqual(dev.Schedule("s", "b", "rate(2 days)", "{}").next_after(0.0), 172800.0)
        self.assertEqual(dev.Schedule("s", "b", "rate(1 hour)", "{}", every=5).next_after(10.0), 15.0)

    def test_cron_expressions_in_utc(self) -> None:
        daily = dev.Schedule("s", "b", "cron(0 1 * * ? *)", "{}")
        self.assertEqual(daily.next_after(utc("2026-12-02 07:30")), utc("2026-12-03 01:00"))
        self.assertEqual(daily.next_after(utc("2026-12-02 00:59")), utc("2026-12-02 01:00"))
        weekdays = dev.Schedule("s", "b", "cron(30 6 ? * MON-FRI *)", "{}")
        self.assertEqual(weekdays.next_after(utc("2026-12-04 07:00")), utc("2026-12-07 06:30"))  # Fri -> Mon
        quarter = dev.Schedule("s", "b", "cron(0/15 * * * ? *)", "{}")
        self.assertEqual(quarter.next_after(utc("2026-12-02 07:31")), utc("2026-12-02 07:45"))
        with self.assertRaises(dev.DevError):
            dev.Schedule("s", "b", "at(2026-12-02T00:00:00)", "{}")

    def test_the_templates_schedules_with_a_fast_outbox(self) -> None:
        schedules = {s.name: s for s in dev.template_schedules(dev.load_template(), 5)}
        outbox = [s for s in schedules.values() if json.loads(s.payload).get("job") == "outbox"]
        self.assertEqual(len(outbox), 1, "the template schedules the outbox job once")
        self.assertEqual((outbox[0].binary, outbox[0].every), ("billing", 5))
        jobs = sorted(json.loads(s.payload)["job"] for s in schedules.values())
        self.assertIn("daily", jobs)
        self.assertIn("monthly", jobs)


class SchedulerTest(unittest.TestCase):
    def test_runs_each_schedule_through_the_invoke_endpoint(self) -> None:
        calls: list[tuple[str, dict]] = []

        class Invoke(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append((self.path, json.loads(body)))
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Invoke)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        scheduler = dev.Scheduler([dev.Schedule("Fn.Outbox", "billing", "rate(5 minutes)", '{"job": "outbox"}',
                                                every=0.2)], server.server_address[1])
        try:
            scheduler.start()
            deadline = time.monotonic() + 10
            while len(calls) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            scheduler.stop()
            server.shutdown()
            server.server_close()
        self.assertGreaterEqual(len(calls), 2)
        self.assertEqual(calls[0], ("/2015-03-31/functions/billing/invocations", {"job": "outbox"}))


if __name__ == "__main__":
    unittest.main()
