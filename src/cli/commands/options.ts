/** commander helper for repeatable options: `-f a -f b` → ["a", "b"]. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
