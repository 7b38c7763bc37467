// Loading and acting: every page reads with `useLoad` and writes with `useAction`, so loading, errors and the
// busy state look and behave the same everywhere.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** Run `load` on mount and whenever `deps` change; `reload()` runs it again (keeping the data shown meanwhile). */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [tick, setTick] = useState(0);
  const current = useRef(0);
  useEffect(() => {
    const run = ++current.current;
    setState((s) => ({ data: s.data, loading: true }));
    load().then(
      (data) => run === current.current && setState({ data, loading: false }),
      (error: unknown) => run === current.current && setState({ error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface Action<A extends unknown[], R> {
  run: (...args: A) => Promise<R | undefined>;
  pending: boolean;
  error?: unknown;
  result?: R;
  reset: () => void;
}

/** A write the user triggers: one at a time (a second click while pending does nothing), its error kept to show. */
export function useAction<A extends unknown[], R>(act: (...args: A) => Promise<R>): Action<A, R> {
  const [state, setState] = useState<{ pending: boolean; error?: unknown; result?: R }>({ pending: false });
  const busy = useRef(false);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      if (busy.current) return undefined;
      busy.current = true;
      setState({ pending: true });
      try {
        const result = await act(...args);
        setState({ pending: false, result });
        return result;
      } catch (error) {
        setState({ pending: false, error });
        return undefined;
      } finally {
        busy.current = false;
      }
    },
    [act],
  );
  const reset = useCallback(() => setState({ pending: false }), []);
  return { ...state, run, reset };
}

/** Call `tick` every `ms` while `active` (e.g. waiting for a webhook to activate a subscription). */
export function usePoll(tick: () => void, ms: number, active: boolean): void {
  useEffect(() => {
    if (!active) return undefined;
    const id = setInterval(tick, ms);
    return () => clearInterval(id);
  }, [tick, ms, active]);
}
