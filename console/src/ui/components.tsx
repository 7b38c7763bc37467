// The console's building blocks. Every input has a visible label; errors are announced (role="alert") and name
// the field the API named; buttons say what they do and show when they are busy.
import { ApiError, NetworkError } from "@monetization/sdk";
import type { ComponentChildren, JSX } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import type { Loaded } from "./data";
import { formatMoney } from "./money";

export { formatMoney };

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  useEffect(() => {
    document.title = `${props.title} · Monetization console`;
  }, [props.title]);
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-header">
        <h1 id="page-title" tabIndex={-1}>
          {props.title}
        </h1>
        {props.actions && <div class="page-actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Section(props: { title: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = useId();
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-header">
        <h2 id={id}>{props.title}</h2>
        {props.actions}
      </header>
      {props.children}
    </section>
  );
}

/** The field errors of an API problem, by field name. */
export function fieldErrors(error: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (error instanceof ApiError) for (const e of error.problem.errors ?? []) out[e.field] ??= e.message;
  return out;
}

/** A sentence for any error the console can meet. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) return error.problem.detail ?? error.problem.title;
  if (error instanceof NetworkError) return "The service cannot be reached. Check your connection and try again.";
  if (error instanceof Error) return error.message;
  return String(error);
}

/** An API problem (or any error), announced to screen readers, with its stable code for support. */
export function ProblemAlert(props: { error: unknown; title?: string }) {
  if (!props.error) return null;
  const code = props.error instanceof ApiError ? props.error.code : undefined;
  const fields = props.error instanceof ApiError ? (props.error.problem.errors ?? []) : [];
  return (
    <div class="alert alert-error" role="alert">
      <strong>{props.title ?? "That did not work"}</strong>
      <p>{describeError(props.error)}</p>
      {fields.length > 0 && (
        <ul>
          {fields.map((f) => (
            <li key={f.field}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      {code && <p class="muted">Code: {code}</p>}
    </div>
  );
}

export function Notice(props: { kind?: "info" | "success" | "warning"; children: ComponentChildren }) {
  return (
    <div class={`alert alert-${props.kind ?? "info"}`} role="status">
      {props.children}
    </div>
  );
}

/** What a `useLoad` shows while loading or failing; the children render once the data is there. */
export function LoadState<T>(props: { loaded: Loaded<T>; children: (data: T) => ComponentChildren; label?: string }) {
  const { data, error, loading, reload } = props.loaded;
  if (error && data === undefined)
    return (
      <div>
        <ProblemAlert error={error} title={`Could not load ${props.label ?? "this"}`} />
        <button type="button" onClick={reload}>
          Try again
        </button>
      </div>
    );
  if (data === undefined)
    return (
      <p class="muted" role="status" aria-busy={loading}>
        Loading…
      </p>
    );
  return <>{props.children(data)}</>;
}

type InputProps = Omit<JSX.InputHTMLAttributes<HTMLInputElement>, "label" | "onInput" | "value" | "name"> & {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
};

/** What every form control gets from its frame: its id, and the attributes that tie it to its hint and error. */
interface ControlWiring {
  id: string;
  "aria-invalid"?: true;
  "aria-describedby"?: string;
}

/** A labelled control with its hint and error below it, wired for assistive technology (the control says it is
 * invalid and is described by both). */
function FieldFrame(props: { label: string; error?: string; hint?: string; control: (w: ControlWiring) => JSX.Element }) {
  const id = useId();
  const described =
    [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div class={`field${props.error ? " field-invalid" : ""}`}>
      <label for={id}>{props.label}</label>
      {props.control({ id, "aria-invalid": props.error ? true : undefined, "aria-describedby": described })}
      {props.hint && (
        <p id={`${id}-hint`} class="hint">
          {props.hint}
        </p>
      )}
      {props.error && (
        <p id={`${id}-error`} class="field-error">
          {props.error}
        </p>
      )}
    </div>
  );
}

export function Field({ label, name, value, onInput, error, hint, ...rest }: InputProps) {
  return (
    <FieldFrame
      label={label}
      error={error}
      hint={hint}
      control={(wiring) => (
        <input
          {...wiring}
          name={name}
          value={value}
          onInput={(e) => onInput((e.currentTarget as HTMLInputElement).value)}
          {...rest}
        />
      )}
    />
  );
}

export function TextArea(props: {
  label: string;
  name: string;
  value: string;
  onInput: (value: string) => void;
  error?: string;
  hint?: string;
  required?: boolean;
  rows?: number;
  maxLength?: number;
}) {
  return (
    <FieldFrame
      label={props.label}
      error={props.error}
      hint={props.hint}
      control={(wiring) => (
        <textarea
          {...wiring}
          name={props.name}
          value={props.value}
          rows={props.rows ?? 3}
          required={props.required}
          maxLength={props.maxLength}
          onInput={(e) => props.onInput((e.currentTarget as HTMLTextAreaElement).value)}
        />
      )}
    />
  );
}

export function Select(props: {
  label: string;
  name: string;
  value: string;
  onChange: (value: string) => void;
  options: { value: string; label: string }[];
  error?: string;
  required?: boolean;
}) {
  return (
    <FieldFrame
      label={props.label}
      error={props.error}
      control={(wiring) => (
        <select
          {...wiring}
          name={props.name}
          value={props.value}
          required={props.required}
          onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value)}
        >
          {props.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      )}
    />
  );
}

export function Button(
  props: JSX.ButtonHTMLAttributes<HTMLButtonElement> & { pending?: boolean; kind?: "primary" | "secondary" | "danger" },
) {
  const { pending, kind, children, disabled, type, ...rest } = props;
  return (
    <button
      type={(type as "button" | "submit" | undefined) ?? "button"}
      class={`btn btn-${kind ?? "secondary"}`}
      disabled={Boolean(disabled) || pending}
      aria-busy={pending ? true : undefined}
      {...rest}
    >
      {children}
      {pending && <span class="spinner" aria-hidden="true" />}
    </button>
  );
}

export function Money(props: { amount: number; currency: string }) {
  return <span class="money">{formatMoney(props.amount, props.currency)}</span>;
}

export function formatDate(iso: string | undefined | null, withTime = true): string {
  if (!iso) return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return withTime
    ? d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" })
    : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

export function DateTime(props: { value: string | undefined | null; date?: boolean }) {
  if (!props.value) return <span>—</span>;
  return <time dateTime={props.value}>{formatDate(props.value, !props.date)}</time>;
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge badge-${props.status.replace(/[^a-z_]/g, "")}`}>{props.status.replace(/_/g, " ")}</span>;
}

/**
 * A secret shown once (a solution token, an API key): selectable, copyable, with the warning that it will not be
 * shown again. It lives only in this component's memory.
 */
export function SecretOnce(props: { label: string; secret: string; onDone?: () => void }) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(props.secret);
      setCopied(true);
    } catch {
      input.current?.select();
    }
  };
  return (
    <div class="secret" role="group" aria-labelledby={`${id}-label`}>
      <label id={`${id}-label`} for={id}>
        {props.label}
      </label>
      <div class="secret-row">
        <input id={id} ref={input} readOnly value={props.secret} onFocus={(e) => e.currentTarget.select()} />
        <Button kind="primary" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
      <p class="hint" role="status">
        Copy it now: it is shown only once and cannot be shown again.
      </p>
      {props.onDone && <Button onClick={props.onDone}>Done</Button>}
    </div>
  );
}

/**
 * A confirmation in a modal dialog (the native <dialog>: focus moves in and back, Escape closes), with an optional
 * required reason (rejections, suspensions, refunds keep theirs in the audit record).
 */
export function ConfirmButton(props: {
  label: string;
  title: string;
  description?: ComponentChildren;
  confirmLabel?: string;
  reason?: { label: string; required?: boolean };
  kind?: "primary" | "secondary" | "danger";
  onConfirm: (reason: string) => Promise<unknown>;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const id = useId();
  const [reason, setReason] = useState("");
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<unknown>();
  const close = () => {
    dialog.current?.close();
    setReason("");
    setError(undefined);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    setPending(true);
    setError(undefined);
    try {
      await props.onConfirm(reason.trim());
      close();
    } catch (err) {
      setError(err);
    } finally {
      setPending(false);
    }
  };
  return (
    <>
      <Button kind={props.kind} onClick={() => dialog.current?.showModal()}>
        {props.label}
      </Button>
      <dialog ref={dialog} aria-labelledby={`${id}-title`} onClose={() => setReason("")}>
        <form onSubmit={submit}>
          <h2 id={`${id}-title`}>{props.title}</h2>
          {props.description && <div>{props.description}</div>}
          {props.reason && (
            <TextArea
              label={props.reason.label}
              name="reason"
              value={reason}
              onInput={setReason}
              required={props.reason.required}
              maxLength={500}
              error={fieldErrors(error)["reason"]}
            />
          )}
          <ProblemAlert error={error} />
          <div class="dialog-actions">
            <Button onClick={close}>Cancel</Button>
            <Button type="submit" kind={props.kind ?? "primary"} pending={pending}>
              {props.confirmLabel ?? props.label}
            </Button>
          </div>
        </form>
      </dialog>
    </>
  );
}

/**
 * The frame a wide table scrolls in on a narrow screen: a labelled region that takes the keyboard focus, so the
 * table can be scrolled without a mouse (WCAG 2.1.1).
 */
export function TableWrap(props: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" role="region" aria-label={props.label} tabIndex={0}>
      {props.children}
    </div>
  );
}

/** A simple accessible table: a caption, column headers, and one row per item. */
export function Table<T>(props: {
  caption: string;
  columns: { header: string; cell: (row: T) => ComponentChildren; numeric?: boolean }[];
  rows: T[];
  rowKey: (row: T) => string;
  empty?: string;
}) {
  if (props.rows.length === 0) return <p class="muted">{props.empty ?? "Nothing yet."}</p>;
  return (
    <TableWrap label={props.caption}>
      <table>
        <caption class="visually-hidden">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th key={c.header} scope="col" class={c.numeric ? "num" : undefined}>
                {c.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.rows.map((row) => (
            <tr key={props.rowKey(row)}>
              {props.columns.map((c) => (
                <td key={c.header} class={c.numeric ? "num" : undefined}>
                  {c.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
