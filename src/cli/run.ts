import { main } from "./main.js";

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
