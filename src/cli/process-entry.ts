import { main, unexpected } from "./main.js";

/** Wires the real process to main: argv, environment, streams, and the exit code. */
export function runProcess(firstArg = 2): void {
  for (const event of ["uncaughtException", "unhandledRejection"] as const) {
    process.on(event, (err: unknown) => {
      if ((err as NodeJS.ErrnoException)?.code === "EPIPE") process.exit(141);
      process.stderr.write(`${unexpected(err, process.env)}\n`);
      process.exit(1);
    });
  }
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(141);
  });
  main({
    argv: process.argv.slice(firstArg),
    env: process.env,
    // a getter: process.stdin is made on first use (a stream over fd 0, a few ms of start-up),
    // and only the commands that read it pay for it
    get stdin() {
      return process.stdin;
    },
    stdout: process.stdout,
    stderr: process.stderr,
    uid: process.getuid?.() ?? 1000,
  }).then((code) => {
    process.exitCode = code;
  });
}
