// `/invitations`: the invitations to the caller's address, to accept; `/invitations/:invitation_id` is the link
// of the invitation mail (shared/src/notifications.rs), the same page with that invitation first. The API lists
// and accepts only for a verified address: its refusal is shown with a button sending a new verification link.
import { ApiError } from "@monetization/sdk";
import { useLocation, useRoute } from "preact-iso";
import { api, reloadSession, useSession } from "../../session";
import { Button, DateTime, Notice, Page, ProblemAlert, Section } from "../../ui/components";
import { useAction, useLoad } from "../../ui/data";
import { OrgProblem, ROLE_LABELS, type InvitationView } from "./common";

export function Invitations() {
  const { params } = useRoute();
  const wanted = params["invitation_id"];
  const s = useSession();
  const list = useLoad(() => api.request("get", "/api/invitations").then((l) => l.invitations), []);
  const unverified = list.error instanceof ApiError && list.error.code === "email_not_verified";
  const pending = (list.data ?? []).filter((i) => i.status === "pending");
  const linked = wanted ? pending.find((i) => i.invitation_id === wanted) : undefined;
  const others = pending.filter((i) => i !== linked);
  return (
    <Page title="Invitations">
      <p class="muted">
        Invitations to join an organization, sent to <strong>{s.context?.user.email}</strong>.
      </p>
      {unverified ? (
        <Unverified error={list.error} retry={list.reload} />
      ) : list.error !== undefined && list.data === undefined ? (
        <>
          <ProblemAlert error={list.error} title="Could not load your invitations" />
          <Button onClick={list.reload}>Try again</Button>
        </>
      ) : list.data === undefined ? (
        <p class="muted" role="status">
          Loading…
        </p>
      ) : (
        <>
          {wanted && !linked && <LinkedElsewhere invitationId={wanted} />}
          {linked && <InvitationCard invitation={linked} highlighted />}
          {others.map((i) => (
            <InvitationCard key={i.invitation_id} invitation={i} />
          ))}
          {pending.length === 0 && !wanted && <p>No invitation is waiting for you.</p>}
        </>
      )}
    </Page>
  );
}

function InvitationCard(props: { invitation: InvitationView; highlighted?: boolean }) {
  const i = props.invitation;
  const accept = useAccept(i.invitation_id);
  return (
    <Section title={`Join ${i.org_name}`}>
      <p>
        You are invited as <strong>{ROLE_LABELS[i.role].toLowerCase()}</strong>
        {props.highlighted ? " (the invitation of your mail)" : ""}. Sent <DateTime value={i.created_at} />,
        valid until <DateTime value={i.expires_at} />.
      </p>
      <OrgProblem error={accept.error} title="Could not accept the invitation" />
      <Button kind="primary" pending={accept.pending} onClick={() => void accept.run()} aria-label={`Accept the invitation to ${i.org_name}`}>
        Accept
      </Button>
    </Section>
  );
}

/**
 * The mail's invitation is not among the caller's pending ones: another address's, closed, or unknown. Accepting
 * lets the API say which (invitation_email_mismatch, invitation_closed, invitation_not_found).
 */
function LinkedElsewhere(props: { invitationId: string }) {
  const accept = useAccept(props.invitationId);
  return (
    <Section title="The invitation of your mail">
      <p>
        This invitation is not among those waiting for your address. It may be for another address (sign in with
        the one it was sent to), or already accepted, canceled or expired.
      </p>
      <OrgProblem error={accept.error} title="Could not accept the invitation" />
      <Button pending={accept.pending} onClick={() => void accept.run()}>
        Try to accept it
      </Button>
    </Section>
  );
}

/** Accept: join, reload the session (nav and pages see the organization), go to it. */
function useAccept(invitationId: string) {
  const { route } = useLocation();
  return useAction(async () => {
    const org = await api.request("post", "/api/invitations/{invitation_id}/accept", {
      path: { invitation_id: invitationId },
    });
    await reloadSession();
    route(`/orgs/${org.org_id}`);
    return org;
  });
}

function Unverified(props: { error: unknown; retry: () => void }) {
  const resend = useAction(() => api.request("post", "/api/auth/resend-verification"));
  const check = useAction(async () => {
    await reloadSession();
    props.retry();
  });
  return (
    <div class="card narrow">
      <ProblemAlert error={props.error} title="Verify your address to see and accept invitations" />
      <p>Open the link of the verification mail we sent you, then come back here.</p>
      <div class="actions">
        <Button kind="primary" onClick={() => void resend.run()} pending={resend.pending}>
          Send a new verification link
        </Button>
        <Button onClick={() => void check.run()} pending={check.pending}>
          I have verified it
        </Button>
      </div>
      {resend.result && <Notice kind="success">A new link is on its way to {resend.result.email}.</Notice>}
      <ProblemAlert error={resend.error} title="Could not send a new link" />
    </div>
  );
}
