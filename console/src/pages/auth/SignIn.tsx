import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, signedIn, useSession } from "../../session";
import { Button, Field, Page, ProblemAlert, fieldErrors } from "../../ui/components";
import { useAction } from "../../ui/data";
import { nextPath } from "./next";

export function SignIn() {
  const { query, route } = useLocation();
  const s = useSession();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const login = useAction(async () => {
    const tokens = await api.request("post", "/api/auth/login", { body: { email: email.trim(), password } });
    await signedIn(tokens);
    route(nextPath(query), true);
  });
  const errors = fieldErrors(login.error);
  return (
    <Page title="Sign in">
      <form
        class="card narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void login.run();
        }}
      >
        {s.ended && !login.error && <p role="status">{s.ended}</p>}
        <Field label="Email" name="email" type="email" autoComplete="email" required value={email} onInput={setEmail} error={errors["email"]} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onInput={setPassword}
          error={errors["password"]}
        />
        <ProblemAlert error={login.error} title="Could not sign in" />
        <Button type="submit" kind="primary" pending={login.pending}>
          Sign in
        </Button>
        <p>
          New here? <a href={`/sign-up${query["next"] ? `?next=${encodeURIComponent(query["next"])}` : ""}`}>Create an account</a>
        </p>
      </form>
    </Page>
  );
}
