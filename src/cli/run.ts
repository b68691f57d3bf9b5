import { main, unexpected } from "./main.js";

for (const event of ["uncaughtException", "unhandledRejection"] as const) {
  process.on(event, (err: unknown) => {
    process.stderr.write(`${unexpected(err, process.env)}\n`);
    process.exit(1);
  });
}

/** The process entry: wires the real process to main and exits with its code. */
main({
  argv: process.argv.slice(2),
  env: process.env,
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  uid: process.getuid?.() ?? 1000,
}).then((code) => {
  process.exitCode = code;
});
