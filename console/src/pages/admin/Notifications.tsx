// `/admin/notifications`: email notifications given up on after their retries (dead-lettered), each sent again
// on demand (its attempts counted from zero).
import { useState } from "preact/hooks";
import { api } from "../../session";
import { Button, DateTime, LoadState, Notice, Page, ProblemAlert, Table } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";

export function AdminNotifications() {
  const [cursor, setCursor] = useState<string>();
  const [message, setMessage] = useState<string>();
  const list = useLoad(() => api.request("get", "/api/admin/notifications/dead", { query: { cursor } }), [cursor]);
  const retry = useAction(async (id: string) => {
    setMessage(undefined);
    await api.request("post", "/api/admin/notifications/{id}/retry", { path: { id } });
    setMessage(`The notification ${id} is pending again and will be sent shortly.`);
    list.reload();
  });
  return (
    <Page title="Dead notifications">
      <p>Emails that failed 8 times are kept here until they are sent again.</p>
      {message && <Notice kind="success">{message}</Notice>}
      <ProblemAlert error={retry.error} title="Could not retry" />
      <LoadState loaded={list} label="the notifications">
        {(data) => (
          <>
            <Table
              caption="Dead-lettered notifications, newest first"
              rows={data.notifications ?? []}
              rowKey={(n) => n.notification_id ?? ""}
              empty="No dead notification."
              columns={[
                { header: "Kind", cell: (n) => n.kind },
                { header: "Customer", cell: (n) => <code>{n.customer_id}</code> },
                { header: "Solution", cell: (n) => n.solution_id ?? "—" },
                { header: "Attempts", cell: (n) => n.attempts ?? 0, numeric: true },
                { header: "Last error", cell: (n) => n.last_error ?? "—" },
                { header: "Dead since", cell: (n) => <DateTime value={n.dead_at} /> },
                {
                  header: "Actions",
                  cell: (n) => (
                    <Button pending={retry.pending} onClick={() => void retry.run(n.notification_id ?? "")} aria-label={`Retry ${n.kind ?? ""} to ${n.customer_id ?? ""}`}>
                      Retry
                    </Button>
                  ),
                },
              ]}
            />
            {data.next_cursor && <Button onClick={() => setCursor(data.next_cursor ?? undefined)}>Next page</Button>}
          </>
        )}
      </LoadState>
    </Page>
  );
}
