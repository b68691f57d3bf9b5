import * as fs from "node:fs";
import { Writable } from "node:stream";
import { z } from "../oci/zod.js";

/**
 * A container's output in docker's json-file log format, one JSON object per line:
 *
 *   {"log":"hello\n","stream":"stdout","time":"2026-11-23T22:57:01.123456789Z"}
 *
 * at ROOT/containers/<id>/<id>-json.log, as docker keeps it, so `logs` can replay stdout and
 * stderr apart, with timestamps (-t), from a time (--since), or only the end (--tail). A line
 * is written when the container ends it with "\n"; what is left when the stream ends is
 * written without one, as docker does.
 */

export type LogStream = "stdout" | "stderr";

export interface LogEntry {
  stream: LogStream;
  /** The text, with its "\n" when the container wrote one. */
  log: string;
  /** RFC 3339 with nanoseconds. */
  time: string;
}

const entrySchema = z.object({
  log: z.string(),
  stream: z.enum(["stdout", "stderr"]),
  time: z.string(),
});

export function logPathOf(containerDir: string, id: string): string {
  return `${containerDir}/${id}-json.log`;
}

// Date has milliseconds only; hrtime gives the rest, anchored to the wall clock once.
const wallAtHr = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

/** Now as docker writes it: RFC 3339 with nine fraction digits, UTC. */
export function nowNano(): string {
  const ns = wallAtHr + process.hrtime.bigint();
  const ms = Number(ns / 1_000_000n);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${new Date(ms).toISOString().slice(0, 19)}.${frac}Z`;
}

/** Appends the container's streams to its log file; `stream(name)` is where a runtime writes. */
export class JsonLogWriter {
  private readonly fd: number;
  private readonly partial: Record<LogStream, string> = { stdout: "", stderr: "" };

  constructor(path: string) {
    this.fd = fs.openSync(path, "a", 0o640);
  }

  /** A Writable for one stream; `tee` also gets every chunk (the foreground run's terminal). */
  stream(name: LogStream, tee?: NodeJS.WritableStream): Writable {
    return new Writable({
      write: (chunk: Buffer, _enc, done) => {
        tee?.write(chunk);
        this.add(name, chunk.toString("utf8"));
        done();
      },
      final: (done) => {
        this.flush(name);
        done();
      },
    });
  }

  private add(name: LogStream, text: string): void {
    const all = this.partial[name] + text;
    const end = all.lastIndexOf("\n");
    if (end < 0) {
      this.partial[name] = all;
      return;
    }
    this.partial[name] = all.slice(end + 1);
    const time = nowNano();
    let out = "";
    for (const line of all.slice(0, end).split("\n"))
      out += `${JSON.stringify({ log: `${line}\n`, stream: name, time })}\n`;
    fs.writeSync(this.fd, out);
  }

  private flush(name: LogStream): void {
    const rest = this.partial[name];
    this.partial[name] = "";
    if (rest) fs.writeSync(this.fd, `${JSON.stringify({ log: rest, stream: name, time: nowNano() })}\n`);
  }

  close(): void {
    this.flush("stdout");
    this.flush("stderr");
    fs.closeSync(this.fd);
  }
}

/** The entries in `text`; a last line cut short (a crash mid-write) is left out. */
function parseLogLines(text: string): LogEntry[] {
  const out: LogEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const parsed = entrySchema.safeParse(JSON.parse(line));
      if (parsed.success) out.push(parsed.data);
    } catch {
      // a torn line
    }
  }
  return out;
}

export interface ReadLogOptions {
  /** --tail: only the last N lines (before --follow adds new ones). */
  tail?: number;
  /** --since / --until: epoch nanoseconds, as bigint. */
  sinceNs?: bigint;
  untilNs?: bigint;
  /** -f: keep reading while `running()` says the container runs. */
  follow?: boolean;
  running?: () => boolean;
  /** How often to look for more while following. */
  pollMs?: number;
}

/** Epoch nanoseconds of an RFC 3339 time with up to nine fraction digits. */
export function timeNs(rfc3339: string): bigint {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(rfc3339);
  if (!m) return 0n;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Reads a log file, then, with follow, what is appended until the container has stopped. */
export async function* readLog(path: string, opts: ReadLogOptions = {}): AsyncGenerator<LogEntry> {
  const keep = (e: LogEntry) => {
    const t = timeNs(e.time);
    return (opts.sinceNs === undefined || t >= opts.sinceNs) && (opts.untilNs === undefined || t <= opts.untilNs);
  };
  let offset = 0;
  let rest = "";
  const readMore = (): LogEntry[] => {
    let fd: number;
    try {
      fd = fs.openSync(path, "r");
    } catch {
      return []; // never started: no log yet
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size <= offset) return [];
      const buf = Buffer.alloc(size - offset);
      const n = fs.readSync(fd, buf, 0, buf.length, offset);
      offset += n;
      const text = rest + buf.subarray(0, n).toString("utf8");
      const end = text.lastIndexOf("\n");
      rest = text.slice(end + 1);
      return parseLogLines(text.slice(0, end + 1)).filter(keep);
    } finally {
      fs.closeSync(fd);
    }
  };
  const first = readMore();
  yield* opts.tail !== undefined ? first.slice(Math.max(0, first.length - opts.tail)) : first;
  if (!opts.follow) return;
  for (;;) {
    // read once more after the container stopped: its last lines land just before
    const stopped = !(opts.running?.() ?? false);
    yield* readMore();
    if (stopped) return;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 100));
  }
}
