// The offline queue: usage that could not be sent (no network, or the API failing after its retries) is kept,
// in order, with the idempotency key it was first sent with, and sent again by `flush` — so an event is never
// counted twice (the API answers a known key with its first answer) and never lost while its storage lasts.

/** An event as `POST /api/track-usage` takes it (its idempotency key always set). */
export interface QueuedEvent {
  body: {
    action: string;
    quantity?: number;
    idempotency_key: string;
    metadata?: Record<string, unknown>;
    solution_id?: string;
    customer_id?: string;
    /** When the usage happened (RFC 3339), when the caller said. */
    timestamp?: string;
  };
  /** The anonymous visitor it was tracked for (`X-Anonymous-Id`), if any. */
  anonymousId?: string;
  /** When it was queued (ms since the epoch). */
  queuedAt: number;
}

/** Where the queue lives between calls (and restarts, for the persistent ones). */
export interface QueueStorage {
  load(): Promise<QueuedEvent[]>;
  save(events: QueuedEvent[]): Promise<void>;
}

/** In memory: lost with the process. */
export class MemoryStorage implements QueueStorage {
  #events: QueuedEvent[] = [];
  async load(): Promise<QueuedEvent[]> {
    return this.#events.map((e) => structuredClone(e));
  }
  async save(events: QueuedEvent[]): Promise<void> {
    this.#events = events.map((e) => structuredClone(e));
  }
}

/** A browser's `localStorage` (or any object with its `getItem`/`setItem`), under one key. */
export class LocalStorageStorage implements QueueStorage {
  constructor(
    private readonly key = "monetization-sdk-queue",
    private readonly storage: Pick<Storage, "getItem" | "setItem"> = globalThis.localStorage,
  ) {}
  async load(): Promise<QueuedEvent[]> {
    return parse(this.storage.getItem(this.key));
  }
  async save(events: QueuedEvent[]): Promise<void> {
    this.storage.setItem(this.key, JSON.stringify(events));
  }
}

export function parse(text: string | null): QueuedEvent[] {
  if (!text) return [];
  const value: unknown = JSON.parse(text);
  return Array.isArray(value) ? (value as QueuedEvent[]) : [];
}
