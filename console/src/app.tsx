// The console's shell: the navigation (by who is signed in), the routes of every area behind their guard, focus
// moved to the page's heading on navigation (screen readers hear the new page), and a skip link.
import { ErrorBoundary, LocationProvider, Route, Router, useLocation } from "preact-iso";
import { useEffect, useState } from "preact/hooks";
import { adminRoutes } from "./pages/admin/routes";
import { authRoutes } from "./pages/auth/routes";
import { orgsRoutes } from "./pages/orgs/routes";
import { partnerRoutes } from "./pages/partner/routes";
import { userRoutes } from "./pages/user/routes";
import type { RouteDef } from "./routes";
import { isAdmin, reloadSession, signOut, useSession } from "./session";
import { Button, Page, ProblemAlert } from "./ui/components";

const AREAS: { label?: string; routes: RouteDef[] }[] = [
  { routes: userRoutes },
  { routes: orgsRoutes },
  { label: "Partner", routes: partnerRoutes },
  { label: "Admin", routes: adminRoutes },
  { routes: authRoutes },
];

export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}

function Shell() {
  const s = useSession();
  const [startError, setStartError] = useState<unknown>();
  useEffect(() => {
    if (s.status === "loading") reloadSession().catch(setStartError);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  const { path } = useLocation();
  useEffect(() => {
    // After a navigation, the new page's heading takes the focus (not on the first load).
    const heading = document.getElementById("page-title");
    if (heading && document.activeElement !== document.body) heading.focus();
  }, [path]);
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        {startError ? (
          <Page title="The console could not start">
            <ProblemAlert error={startError} />
            <Button onClick={() => location.reload()}>Reload</Button>
          </Page>
        ) : s.status === "loading" ? (
          <p class="muted" role="status">
            Loading…
          </p>
        ) : (
          <ErrorBoundary>
            <Router>
              {[
                ...AREAS.flatMap((area) =>
                  area.routes.map((r) => <Route key={r.path} path={r.path} component={guarded(r)} />),
                ),
                <Route key="404" default component={NotFound} />,
              ]}
            </Router>
          </ErrorBoundary>
        )}
      </main>
    </>
  );
}

const guards = new Map<RouteDef, (props: object) => preact.JSX.Element>();

/** The route's page when the caller may see it; otherwise sign-in (keeping where they wanted to go) or a refusal. */
function guarded(r: RouteDef) {
  let guard = guards.get(r);
  if (!guard) {
    guard = function Guard(props: object) {
      const s = useSession();
      const { url, route } = useLocation();
      const needsSignIn = r.access !== "public" && s.status !== "signed-in";
      useEffect(() => {
        if (needsSignIn) route(`/sign-in?next=${encodeURIComponent(url)}`, true);
      }, [needsSignIn, url]);
      if (needsSignIn) return <p role="status">Redirecting to sign in…</p>;
      if (r.access === "admin" && !isAdmin(s))
        return (
          <Page title="Not allowed">
            <p>This page is for administrators.</p>
          </Page>
        );
      const Component = r.component;
      return <Component {...props} />;
    };
    guards.set(r, guard);
  }
  return guard;
}

function NotFound() {
  return (
    <Page title="Page not found">
      <p>
        There is no page at this address. <a href="/">Go to the start page</a>.
      </p>
    </Page>
  );
}

function Header() {
  const s = useSession();
  const { path } = useLocation();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  const signedIn = s.status === "signed-in";
  const visible = (r: RouteDef) => r.nav && (r.access === "public" || (signedIn && (r.access !== "admin" || isAdmin(s))));
  const groups = AREAS.map((a) => ({ label: a.label, links: a.routes.filter(visible) })).filter((g) => g.links.length);
  return (
    <header class="topbar">
      <a class="brand" href="/">
        Monetization
      </a>
      <button
        type="button"
        class="nav-toggle"
        aria-expanded={open}
        aria-controls="site-nav"
        onClick={() => setOpen(!open)}
      >
        Menu
      </button>
      <nav id="site-nav" aria-label="Main" class={open ? "open" : undefined}>
        {groups.map((g) => (
          <ul key={g.label ?? "main"} aria-label={g.label}>
            {g.label && g.links.length > 1 && (
              <li class="nav-group" aria-hidden="true">
                {g.label}
              </li>
            )}
            {g.links.map((r) => (
              <li key={r.path}>
                <a href={r.path} aria-current={path === r.path || path.startsWith(`${r.path}/`) ? "page" : undefined}>
                  {r.nav}
                </a>
              </li>
            ))}
          </ul>
        ))}
        <div class="nav-account">
          {signedIn ? (
            <>
              <span class="muted account-email">{s.context?.user.email}</span>
              <Button onClick={() => void signOut()}>Sign out</Button>
            </>
          ) : (
            <>
              <a href="/sign-in">Sign in</a>
              <a href="/sign-up">Create account</a>
            </>
          )}
        </div>
      </nav>
    </header>
  );
}
