import { useLocation } from "preact-iso";
import { useState } from "preact/hooks";
import { api, signedIn } from "../../session";
import { Button, Field, Page, ProblemAlert, fieldErrors } from "../../ui/components";
import { useAction } from "../../ui/data";
import { nextPath } from "./next";

export function SignUp() {
  const { query, route } = useLocation();
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const register = useAction(async () => {
    const tokens = await api.request("post", "/api/auth/register", {
      body: { name: name.trim(), email: email.trim(), password },
    });
    await signedIn(tokens);
    route(nextPath(query) === "/" ? "/?welcome=1" : nextPath(query), true);
  });
  const errors = fieldErrors(register.error);
  return (
    <Page title="Create an account">
      <form
        class="card narrow"
        onSubmit={(e) => {
          e.preventDefault();
          void register.run();
        }}
      >
        <Field label="Name" name="name" autoComplete="name" required maxLength={100} value={name} onInput={setName} error={errors["name"]} />
        <Field label="Email" name="email" type="email" autoComplete="email" required value={email} onInput={setEmail} error={errors["email"]} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          maxLength={256}
          hint="At least 10 characters."
          value={password}
          onInput={setPassword}
          error={errors["password"]}
        />
        <ProblemAlert error={register.error} title="Could not create the account" />
        <Button type="submit" kind="primary" pending={register.pending}>
          Create account
        </Button>
        <p>
          Already have an account? <a href="/sign-in">Sign in</a>
        </p>
      </form>
    </Page>
  );
}
