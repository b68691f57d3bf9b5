import * as fs from "node:fs";
import type { Writable } from "node:stream";

/** One line of the access log (JSON): what was asked, what was answered, how long it took. */
export interface RequestLogEntry {
  readonly time: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** Bytes sent and received on the connection for this request, headers included. */
  readonly bytes: number;
  readonly bytesIn: number;
  readonly ms: number;
  readonly remote: string | undefined;
  readonly error?: string;
}

export type RequestLog = (entry: RequestLogEntry) => void;

/**
 * Writes JSON lines, batched: a write(2) per request would cost more than a manifest GET, so
 * lines are gathered and flushed every 50 ms or 64 KiB, and on close.
 */
export class JsonLinesLog {
  private lines: string[] = [];
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Writable) {}

  static toFile(path: string): JsonLinesLog {
    return new JsonLinesLog(fs.createWriteStream(path, { flags: "a" }));
  }

  readonly log: RequestLog = (entry) => {
    const line = `${JSON.stringify(entry)}\n`;
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= 64 * 1024) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), 50).unref();
  };

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.lines.length === 0) return;
    this.out.write(this.lines.join(""));
    this.lines = [];
    this.size = 0;
  }

  async close(): Promise<void> {
    this.flush();
    if (this.out === process.stderr || this.out === process.stdout) return;
    await new Promise<void>((resolve) => this.out.end(resolve));
  }
}
