// A review list by status (partner applications, solutions): the status chosen, the page (cursor), the last
// decision's message, and the list reloaded after each decision.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { Button, LoadState, Notice, Select } from "../../ui/components";
import { type Loaded, useLoad } from "../../ui/data";

export function useStatusList<S extends string, T extends { next_cursor?: string | null }>(
  initial: S,
  load: (status: S, cursor: string | undefined) => Promise<T>,
) {
  const [status, setStatus] = useState<S>(initial);
  const [cursor, setCursor] = useState<string>();
  const [message, setMessage] = useState<string>();
  const list = useLoad(() => load(status, cursor), [status, cursor]);
  return {
    status,
    list,
    message,
    /** After a decision: say what happened and show the list as it is now. */
    done: (text: string) => {
      setMessage(text);
      list.reload();
    },
    choose: (next: S) => {
      setStatus(next);
      setCursor(undefined);
      setMessage(undefined);
    },
    next: (data: T) => data.next_cursor && <Button onClick={() => setCursor(data.next_cursor ?? undefined)}>Next page</Button>,
  };
}

export function StatusList<S extends string, T extends { next_cursor?: string | null }>(props: {
  label: string;
  what: string;
  state: ReturnType<typeof useStatusList<S, T>>;
  options: { value: S; label: string }[];
  children: (data: T) => ComponentChildren;
}) {
  const s = props.state;
  return (
    <>
      <Select label={props.label} name="status" value={s.status} onChange={(v) => s.choose(v as S)} options={props.options} />
      {s.message && <Notice kind="success">{s.message}</Notice>}
      <LoadState loaded={s.list as Loaded<T>} label={props.what}>
        {(data) => (
          <>
            {props.children(data)}
            {s.next(data)}
          </>
        )}
      </LoadState>
    </>
  );
}
