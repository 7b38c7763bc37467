/**
 * Where to go after signing in: the page that sent the user here. Only a path of this origin: `//host` and
 * `/\host` (which browsers read as `//host`) are another origin's, and so is anything with a scheme.
 */
export function nextPath(query: Record<string, string | undefined>): string {
  const next = query["next"] ?? "";
  return /^\/(?![/\\])/.test(next) ? next : "/";
}
