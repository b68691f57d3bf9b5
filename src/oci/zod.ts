import { z } from "zod";

/**
 * zod, set to validate without compiling. zod 4 compiles a parser for each object schema on
 * its first parse (`new Function`); a berth command parses each schema a few times, so the
 * compiling is never paid back: an image config's first parse took ~3–7 ms compiled against
 * ~1 ms interpreted, on a pull's path to its first layer byte. zod reads the setting when a
 * schema is made, so every module takes `z` from here (test/zod-import.test.ts checks it).
 */
z.config({ jitless: true });

export { z };
