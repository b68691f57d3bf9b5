import { Writable } from "node:stream";
import { createLogUpdate } from "log-update";

/**
 * How `berth build` shows its progress: BuildKit's two modes. Plain writes the builder's lines
 * and RUN output as they come (logs, CI); the terminal view redraws a region with one line a
 * step, its time, and the last lines of what running steps print, then leaves the summary.
 * Both read the same stream of builder lines ("#3 [2/5] RUN …", "#3 CACHED"), so the builder
 * itself knows nothing of terminals.
 */
export interface BuildProgress {
  log(line: string): void;
  /** RUN steps' output. */
  readonly output: Writable;
  /** The build ended (ok or not); the view is left as its final state. */
  done(ok: boolean): void;
}

type Out = Writable & { isTTY?: boolean; columns?: number; rows?: number };

export function plainProgress(stderr: Writable): BuildProgress {
  return { log: (line) => stderr.write(`${line}\n`), output: stderr, done: () => {} };
}

interface Step {
  title: string;
  cached: boolean;
  start: number;
  end?: number;
  /** Complete output lines, and the one still being written. */
  lines: string[];
  partial: string;
}

const OUTPUT_LINES = 6;
const KEPT_LINES = 200;

export function ttyProgress(stderr: Out, now: () => number = () => performance.now()): BuildProgress {
  const started = now();
  const steps = new Map<number, Step>();
  const notes: string[] = [];
  let current: Step | undefined;
  let finished = false;
  const update = createLogUpdate(stderr, { showCursor: true });

  const finishOthers = (except: Step) => {
    // the builder starts a step when the previous one of the chain is over; stages that run
    // at once are rare enough that ending the earlier steps here reads right
    for (const s of steps.values()) if (s !== except && s.end === undefined) s.end = now();
  };
  const secs = (ms: number) => `${(ms / 1000).toFixed(1)}s`;
  const render = (final: boolean, ok: boolean) => {
    const width = Math.max(40, stderr.columns ?? 80);
    const total = steps.size;
    const done = [...steps.values()].filter((s) => s.end !== undefined).length;
    const out = [
      `[+] Building ${secs(now() - started)} (${final ? total : done}/${total})${final && ok ? " FINISHED" : ""}`,
    ];
    for (const s of steps.values()) {
      const time = secs((s.end ?? now()) - s.start);
      const left = ` => ${s.cached ? "CACHED " : ""}${s.title}`;
      const room = width - time.length - 1;
      const text = left.length > room ? `${left.slice(0, Math.max(0, room - 3))}...` : left.padEnd(room);
      out.push(`${text} ${time}`);
      if (s.end === undefined && !final) {
        const shown = [...s.lines, ...(s.partial ? [s.partial] : [])].slice(-OUTPUT_LINES);
        for (const l of shown) out.push(` => => # ${l}`.slice(0, width));
      }
    }
    update(out.join("\n"));
  };
  const timer = setInterval(() => render(false, false), 100);
  timer.unref();

  const onLine = (line: string) => {
    const m = /^#(\d+) (.*)$/.exec(line);
    if (!m) {
      notes.push(line);
      return;
    }
    const n = Number(m[1]);
    const rest = m[2] as string;
    const step = steps.get(n);
    if (!step) {
      const s: Step = {
        title: rest.startsWith("writing image") ? "exporting to image" : rest,
        cached: false,
        start: now(),
        lines: [],
        partial: "",
      };
      steps.set(n, s);
      finishOthers(s);
      current = s;
      if (rest.startsWith("writing image")) s.lines.push(rest);
    } else if (rest === "CACHED") {
      step.cached = true;
      step.end = now();
    } else step.lines.push(rest);
  };

  const output = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const s = current;
      if (s) {
        const parts = (s.partial + chunk.toString("utf8")).split(/\r?\n/);
        s.partial = parts.pop() ?? "";
        s.lines.push(...parts);
        if (s.lines.length > KEPT_LINES) s.lines.splice(0, s.lines.length - KEPT_LINES);
      }
      cb();
    },
  });

  return {
    log: (text) => {
      for (const line of text.split("\n")) onLine(line);
    },
    output,
    done: (ok) => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      for (const s of steps.values()) s.end ??= now();
      render(true, ok);
      update.done();
      if (!ok && current) {
        // BuildKit prints the failed step's log under the view, so the reason stays on screen
        const lines = [...current.lines, ...(current.partial ? [current.partial] : [])];
        stderr.write(`------\n > ${current.title}:\n${lines.map((l) => `${l}\n`).join("")}------\n`);
      }
      for (const n of notes) stderr.write(`${n}\n`);
    },
  };
}
