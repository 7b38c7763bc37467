import { describe, expect, it } from "vitest";
import { nextPath } from "./next";

describe("nextPath: only a path of this origin after signing in", () => {
  it.each(["/", "/tokens", "/billing/success?session_id=cs_1", "/orgs/org_1#members"])("keeps %s", (next) => {
    expect(nextPath({ next })).toBe(next);
  });

  it.each(["//evil.example", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "tokens", "", undefined])(
    "refuses %j",
    (next) => {
      expect(nextPath({ next })).toBe("/");
    },
  );
});
