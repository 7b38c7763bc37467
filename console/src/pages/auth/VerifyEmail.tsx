import { useLocation } from "preact-iso";
import { useEffect } from "preact/hooks";
import { api, reloadSession, useSession } from "../../session";
import { Button, Notice, Page, ProblemAlert } from "../../ui/components";
import { useAction } from "../../ui/data";

/** The link of the verification mail: `/verify-email?token=ev_…` (works signed in or not). */
export function VerifyEmail() {
  const { query } = useLocation();
  const s = useSession();
  const token = query["token"] ?? "";
  const verify = useAction(async () => {
    const answer = await api.request("post", "/api/auth/verify-email", { body: { token } });
    if (s.status === "signed-in") await reloadSession();
    return answer;
  });
  useEffect(() => {
    if (token) void verify.run();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [token]);
  const resend = useAction(() => api.request("post", "/api/auth/resend-verification"));
  return (
    <Page title="Verify your email">
      <div class="card narrow">
        {!token && <p>Open the link from the mail we sent you.</p>}
        {verify.pending && <p role="status">Verifying…</p>}
        {verify.result && (
          <Notice kind="success">
            <strong>{verify.result.email}</strong> is verified. <a href="/">Continue</a>
          </Notice>
        )}
        <ProblemAlert error={verify.error} title="This link did not work" />
        {(verify.error || !token) && s.status === "signed-in" && !s.context?.user.email_verified && (
          <>
            <Button onClick={() => void resend.run()} pending={resend.pending}>
              Send a new link
            </Button>
            {resend.result !== undefined && !resend.error && <Notice kind="success">A new link is on its way.</Notice>}
            <ProblemAlert error={resend.error} />
          </>
        )}
      </div>
    </Page>
  );
}
