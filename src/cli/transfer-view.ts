import type { Writable } from "node:stream";
import type { createLogUpdate } from "log-update";
import { humanSize } from "../format/units.js";
import type { TransferEvent } from "../verbs/transfer-events.js";

/** Statuses that only move a bar: drawn on a terminal, left out of plain output (as docker does). */
const MOVING = new Set(["Downloading", "Pushing", "Resuming"]);
const REDRAW_MS = 100;

interface Row {
  status: string;
  current?: number;
  total?: number;
  startMs: number;
  startBytes: number;
}

/**
 * docker's pull/push progress: on a terminal, one line per layer with a bar, bytes and speed,
 * redrawn in place; otherwise one plain line per status change.
 */
export class TransferView {
  private readonly rows = new Map<string, Row>();
  private readonly log: ReturnType<typeof createLogUpdate> | undefined;
  private lastDraw = 0;
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly out: Writable & { isTTY?: boolean },
    private readonly quiet: boolean,
    log: ReturnType<typeof createLogUpdate> | undefined,
  ) {
    this.log = log;
  }

  /**
   * The view for `out`: redrawn on a terminal, plain lines otherwise. log-update (and the
   * width tables it pulls in, ~50 ms to load) is loaded only for a terminal.
   */
  static async open(out: Writable & { isTTY?: boolean }, quiet = false): Promise<TransferView> {
    // A terminal of no size (a pty nobody sized) would clip every frame away: plain lines then.
    const tty = out.isTTY === true && ((out as NodeJS.WriteStream).rows ?? 0) > 0;
    if (!tty || quiet) return new TransferView(out, quiet, undefined);
    const { createLogUpdate } = await import("log-update");
    return new TransferView(out, quiet, createLogUpdate(out as NodeJS.WriteStream));
  }

  /** A line above the layer rows ("latest: Pulling from library/nginx"). */
  line(text: string): void {
    if (this.quiet) return;
    this.flush();
    this.out.write(`${text}\n`);
  }

  /** Whether a row stands for `id` (a layer the transfer announced). */
  has(id: string): boolean {
    return this.rows.has(id);
  }

  readonly event = (e: TransferEvent): void => {
    if (this.quiet) return;
    const row = this.rows.get(e.id);
    const now = Date.now();
    if (!this.log) {
      if (!MOVING.has(e.status) && row?.status !== e.status) this.out.write(`${e.id}: ${e.status}\n`);
      this.rows.set(e.id, { status: e.status, startMs: now, startBytes: 0 });
      return;
    }
    const moving = MOVING.has(e.status);
    this.rows.set(e.id, {
      status: e.status,
      ...(e.current !== undefined ? { current: e.current } : {}),
      ...(e.total !== undefined ? { total: e.total } : {}),
      startMs: moving && row && MOVING.has(row.status) ? row.startMs : now,
      startBytes: moving && row && MOVING.has(row.status) ? row.startBytes : (e.current ?? 0),
    });
    if (!moving || now - this.lastDraw >= REDRAW_MS) this.draw();
    else this.timer ??= setTimeout(() => this.draw(), REDRAW_MS);
  };

  private draw(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastDraw = Date.now();
    const lines: string[] = [];
    for (const [id, r] of this.rows) lines.push(`${id}: ${r.status}${MOVING.has(r.status) ? ` ${bar(r)}` : ""}`);
    this.log?.(lines.join("\n"));
  }

  /** Ends the layer region so that lines after it are plain. */
  flush(): void {
    if (!this.log) {
      this.rows.clear();
      return;
    }
    if (this.rows.size > 0) this.draw();
    this.log.done();
    this.rows.clear();
  }
}

function bar(r: Row): string {
  const width = 50;
  if (!r.total || r.current === undefined) return "";
  const frac = Math.min(1, r.current / r.total);
  const filled = Math.floor(frac * width);
  const arrow = filled < width ? `${"=".repeat(filled)}>${" ".repeat(width - filled - 1)}` : "=".repeat(width);
  const secs = (Date.now() - r.startMs) / 1000;
  const speed = secs > 0.2 ? `  ${humanSize((r.current - r.startBytes) / secs)}/s` : "";
  return `[${arrow}]  ${humanSize(r.current)}/${humanSize(r.total)}${speed}`;
}
