// The types are generated from infra/openapi.yaml (`npm run generate`): stale ones fail here.
import { readFile } from "node:fs/promises";
import openapiTS, { astToString } from "openapi-typescript";
import { expect, it } from "vitest";

it("src/generated/openapi.ts is what openapi-typescript makes of infra/openapi.yaml", async () => {
  const spec = new URL("../../../infra/openapi.yaml", import.meta.url);
  const fresh = astToString(await openapiTS(spec));
  const committed = await readFile(new URL("../src/generated/openapi.ts", import.meta.url), "utf8");
  // The CLI adds a header comment; the declarations must be identical.
  const body = (text: string) => text.slice(text.indexOf("export "));
  expect(body(committed) === body(fresh), "stale: run `npm run generate` in sdk/typescript").toBe(true);
});
