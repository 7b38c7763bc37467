// Typed calls of any documented route: the path, its parameters, its body and its answer all come from
// infra/openapi.yaml (`paths`), so a console or a backend calls the whole API through one checked surface.
import type { paths } from "./generated/openapi.js";

export type HttpMethod = "get" | "put" | "post" | "delete" | "patch";

/** The documented paths that answer `method`. */
export type PathsFor<M extends HttpMethod> = {
  [P in keyof paths]: paths[P][M] extends undefined ? never : P;
}[keyof paths];

/** The operation behind `method path`. */
export type Operation<P extends keyof paths, M extends HttpMethod> = NonNullable<paths[P][M]>;

type Parameters<O> = O extends { parameters: infer X } ? X : Record<string, never>;
type Part<O, K extends string> = Parameters<O> extends { [k in K]?: infer V } ? ([V] extends [never] ? never : V) : never;

/** The JSON body an operation takes (never when it takes none; `undefined` allowed when it is optional). */
export type RequestBody<O> = O extends { requestBody?: infer R }
  ? [NonNullable<R>] extends [never]
    ? never
    : NonNullable<R> extends { content: { "application/json": infer B } }
      ? O extends { requestBody: unknown }
        ? B
        : B | undefined
      : never
  : never;

type SuccessStatus = 200 | 201 | 202 | 204;
/** What a successful answer carries (`undefined` for 204). */
export type SuccessBody<O> = O extends { responses: infer R }
  ? {
      [K in keyof R & SuccessStatus]: R[K] extends { content: { "application/json": infer C } } ? C : undefined;
    }[keyof R & SuccessStatus]
  : never;

/**
 * `K` as the operation has it: absent when it has none, optional when it may be left out, required otherwise.
 * Parameters (`Loose`) may be left out when none of them is required (a query of optional parameters only); a
 * body only when its schema allows `undefined`.
 */
type Optional<K extends string, V, Loose extends boolean = false> = [V] extends [never]
  ? { [k in K]?: never }
  : undefined extends V
    ? { [k in K]?: V }
    : Loose extends true
      ? {} extends V
        ? { [k in K]?: V }
        : { [k in K]: V }
      : { [k in K]: V };

/** How to call an operation: its path parameters, query, headers and body, each when it has them. */
export type RequestInit<O> = Optional<"path", Part<O, "path">, true> &
  Optional<"query", Part<O, "query">, true> &
  Optional<"body", RequestBody<O>> & {
    /** Header parameters the operation documents (e.g. `Idempotency-Key`). */
    headers?: Part<O, "header"> extends never ? Record<string, string> : Part<O, "header">;
  };

/** Fill `{name}` segments of a documented path; each value is percent-encoded. */
export function fillPath(template: string, values: Record<string, unknown> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values?.[name];
    if (value === undefined || value === null || value === "") throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}

/** A query string (with its `?`) from the defined values; arrays repeat the name. */
export function queryString(query: Record<string, unknown> | undefined): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(name, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
