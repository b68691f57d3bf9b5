import type { Readable, Writable } from "node:stream";

/**
 * Reads one line from a terminal; with `hidden`, the typed characters are not echoed
 * (docker's password prompt). Ctrl-C aborts with exit 130, as a shell expects.
 */
export function promptLine(
  input: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown },
  output: Writable,
  question: string,
  hidden: boolean,
): Promise<string> {
  output.write(question);
  return new Promise((resolve) => {
    let text = "";
    const raw = hidden && typeof input.setRawMode === "function";
    if (raw) input.setRawMode?.(true);
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString("utf8")) {
        if (ch === "\u0003") {
          if (raw) input.setRawMode?.(false);
          output.write("\n");
          process.exit(130);
        }
        if (ch === "\r" || ch === "\n") {
          input.off("data", onData);
          input.pause();
          if (raw) {
            input.setRawMode?.(false);
            output.write("\n");
          }
          resolve(text);
          return;
        }
        if (ch === "\u007f" || ch === "\b") text = text.slice(0, -1);
        else text += ch;
      }
    };
    input.on("data", onData);
    input.resume();
  });
}
