// Node-only parts (kept out of the main entry, so browser bundles never see `node:` modules):
// `import { FileStorage } from "@monetization/sdk/node"`.
import { readFile, rename, writeFile } from "node:fs/promises";
import { type QueueStorage, type QueuedEvent, parse } from "./queue.js";

/** A JSON file (Node): written to a temporary file and renamed over the old one, so a crash leaves one or the other. */
export class FileStorage implements QueueStorage {
  constructor(private readonly path: string) {}
  async load(): Promise<QueuedEvent[]> {
    try {
      return parse(await readFile(this.path, "utf8"));
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return [];
      throw error;
    }
  }
  async save(events: QueuedEvent[]): Promise<void> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(events));
    await rename(tmp, this.path);
  }
}

