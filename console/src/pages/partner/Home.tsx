// `/partner`: the application form for a user who is no partner yet; the partner's page for a member of one;
// a choice for a member of several (the chosen partner's id then stays in the URL).
import { useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { partnerOrgs, useSession } from "../../session";
import { Page, Table } from "../../ui/components";
import { ApplyForm } from "./Apply";
import { partnerPath } from "./common";

export function PartnerHome() {
  const s = useSession();
  const { route } = useLocation();
  const partners = partnerOrgs(s);
  const only = partners.length === 1 ? partners[0] : undefined;
  useEffect(() => {
    if (only) route(partnerPath(only.partner_id), true);
  }, [only?.partner_id]);
  if (only) return <p role="status">Opening your partner page…</p>;
  if (partners.length === 0)
    return (
      <Page title="Partner">
        <p>
          Partners list their software on the marketplace, with free and paid tiers, and get analytics and revenue
          here.
        </p>
        <ApplyForm />
      </Page>
    );
  return (
    <Page title="Partner">
      <p>You belong to several partners. Choose one:</p>
      <Table
        caption="Your partners"
        rows={partners}
        rowKey={(p) => p.partner_id}
        columns={[
          { header: "Partner", cell: (p) => <a href={partnerPath(p.partner_id)}>{p.name}</a> },
          { header: "Your role", cell: (p) => p.role },
          { header: "Members", cell: (p) => p.member_count, numeric: true },
        ]}
      />
      <p>
        <a href="/partner/apply">Apply for another partner account</a> (only when your own application was rejected)
      </p>
    </Page>
  );
}

export function PartnerApply() {
  return (
    <Page title="Partner application">
      <ApplyForm again />
    </Page>
  );
}
