import { Command } from "@commander-js/extra-typings";

/**
 * commander's Command, reading boolean flags as docker's (Go's pflag) do: `--rm=false`,
 * `--disable-content-trust=true`, `-q=true`. commander takes a boolean flag bare only, and
 * calls `--flag=value` an unknown option; declaring the flag with an optional value instead
 * (`--flag [bool]`) makes it swallow the next word, so `pull --disable-content-trust nginx`
 * lost its image name. Here the flag stays boolean, and its `=value` form is read before
 * commander parses: true and false as strconv.ParseBool spells them, anything else refused
 * with docker's message. Scanning stops where commander stops taking options (`--`, the
 * subcommand, or the first operand of a command that passes the rest through, as run does
 * with its command: `berth run IMAGE ls -v=1` keeps its `-v=1`, which is not berth's --version).
 */
export class DockerCommand extends Command {
  override createCommand(name?: string): DockerCommand {
    return new DockerCommand(name);
  }

  override parseOptions(argv: string[]): ReturnType<Command["parseOptions"]> {
    // where commander stops taking this command's options: at the subcommand (positional
    // options, as berth's top level has them) or at the first operand (run's command)
    const self = this as unknown as { _passThroughOptions?: boolean; _enablePositionalOptions?: boolean };
    const stopAtOperand = self._passThroughOptions === true || self._enablePositionalOptions === true;
    const out: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i] as string;
      if (arg === "--") {
        out.push(...argv.slice(i));
        break;
      }
      const eq = arg.indexOf("=");
      const name = eq > 0 ? arg.slice(0, eq) : arg;
      const option = arg.startsWith("-") ? this.options.find((o) => o.long === name || o.short === name) : undefined;
      if (option && eq > 0 && !option.required && !option.optional) {
        const value = goBool(arg.slice(eq + 1));
        if (value === undefined) {
          this.error(`error: invalid argument "${arg.slice(eq + 1)}" for "${name}" flag: want true or false`, {
            code: "commander.invalidArgument",
          });
        }
        this.setOptionValueWithSource(option.attributeName(), option.negate ? !value : value, "cli");
        continue;
      }
      out.push(arg);
      // the value a flag takes from the next word is not an operand
      if (option && eq < 0 && option.required && i + 1 < argv.length) out.push(argv[++i] as string);
      else if (!option && !arg.startsWith("-") && stopAtOperand) {
        out.push(...argv.slice(i + 1));
        break;
      }
    }
    return super.parseOptions(out);
  }
}

/** Go's strconv.ParseBool, which docker's flags and variables go through. */
export function goBool(value: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(value)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(value)) return false;
  return undefined;
}
