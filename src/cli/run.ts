import { runProcess } from "./process-entry.js";

/** The process entry of the bundled CLI (bin/berth loads it). */
runProcess();
