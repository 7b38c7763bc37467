// The signed-in session: one SDK client for the whole console (same origin as the API), its token pair kept in
// localStorage so a reload or a new tab stays signed in, and the caller's context (user, role, organizations,
// partners) loaded once per sign-in. The console never sees a password again after sending it, and keeps no
// other secret: solution tokens and API keys are shown once and not stored.
import { MarketplaceClient, SessionEnded, type Tokens, type UserContext, type components } from "@monetization/sdk";
import { useEffect, useState } from "preact/hooks";

export type OrgView = components["schemas"]["OrgView"];

const STORAGE_KEY = "monetization.console.session";

function loadTokens(): Tokens | undefined {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return undefined;
    const parsed = JSON.parse(raw) as Partial<Tokens>;
    return typeof parsed.token === "string" ? { token: parsed.token, refreshToken: parsed.refreshToken } : undefined;
  } catch {
    return undefined;
  }
}

function saveTokens(tokens: Tokens | undefined): void {
  try {
    if (tokens) localStorage.setItem(STORAGE_KEY, JSON.stringify(tokens));
    else localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Private mode or storage full: the session lasts as long as the page.
  }
}

const initial = loadTokens();

/** The one client: every page calls the API through `api.request(...)`. */
export const api = new MarketplaceClient({
  baseUrl: location.origin,
  token: initial?.token,
  refreshToken: initial?.refreshToken,
  queue: false,
});

export interface Session {
  status: "loading" | "signed-out" | "signed-in";
  context?: UserContext;
  /** The caller's organizations (`GET /api/orgs`): teams, the personal one and partner organizations. */
  orgs: OrgView[];
  /** Why the last session ended, shown on the sign-in page. */
  ended?: string;
}

let state: Session = { status: initial ? "loading" : "signed-out", orgs: [] };
const listeners = new Set<(s: Session) => void>();

function set(next: Session): void {
  state = next;
  for (const listener of listeners) listener(state);
}

export function session(): Session {
  return state;
}

/** The current session, re-rendering the component when it changes. */
export function useSession(): Session {
  const [value, setValue] = useState(state);
  useEffect(() => {
    listeners.add(setValue);
    setValue(state);
    return () => {
      listeners.delete(setValue);
    };
  }, []);
  return value;
}

api.on("tokenRefreshed", (tokens) => saveTokens(tokens));
api.on("sessionEnded", () => {
  saveTokens(undefined);
  set({ status: "signed-out", orgs: [], ended: "Your session ended. Please sign in again." });
});

/** Load the caller's context and organizations (after signing in, on start, and after a change of role). */
export async function reloadSession(): Promise<void> {
  if (!api.tokens) {
    set({ status: "signed-out", orgs: [] });
    return;
  }
  try {
    const [context, orgs] = await Promise.all([
      api.getUserContext({ maxAgeMs: 0 }),
      api.request("get", "/api/orgs"),
    ]);
    set({ status: "signed-in", context, orgs: orgs.orgs });
  } catch (error) {
    if (error instanceof SessionEnded || (error as { status?: number }).status === 401) {
      api.setTokens(undefined);
      saveTokens(undefined);
      set({ status: "signed-out", orgs: [], ended: "Your session ended. Please sign in again." });
      return;
    }
    throw error;
  }
}

/** Start a session with the tokens of `POST /api/auth/login` or `/register`. */
export async function signedIn(tokens: { access_token: string; refresh_token: string }): Promise<void> {
  const pair = { token: tokens.access_token, refreshToken: tokens.refresh_token };
  api.setTokens(pair);
  saveTokens(pair);
  await reloadSession();
}

/** End the session: revoked on the server (its refresh family with it), then forgotten here. */
export async function signOut(): Promise<void> {
  const token = api.tokens?.token;
  if (token) await api.request("delete", "/api/revoke-token", { body: { token } }).catch(() => undefined);
  api.setTokens(undefined);
  saveTokens(undefined);
  set({ status: "signed-out", orgs: [] });
}

/**
 * Forget the session here only, without calling the API: for when the server has already revoked it (the account
 * was erased). `ended` is shown on the sign-in page.
 */
export function forgetSession(ended?: string): void {
  api.setTokens(undefined);
  saveTokens(undefined);
  set({ status: "signed-out", orgs: [], ended });
}

/** The partners the caller belongs to (their partner organizations), with the caller's role in each. */
export function partnerOrgs(s: Session): (OrgView & { partner_id: string })[] {
  return s.orgs.filter((o): o is OrgView & { partner_id: string } => o.kind === "partner" && !!o.partner_id);
}

export function isAdmin(s: Session): boolean {
  return s.context?.user.role === "admin";
}
