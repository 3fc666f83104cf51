/**
 * The HTML reports made lately, least recently used first out, within a byte budget. A COMPLETE
 * search's task results no longer change, so its report is fixed by the search and the state of its
 * analyses: the key says both, and a report whose analyses changed is made again.
 */
export class ReportCache {
  private readonly entries = new Map<string, string>();
  private bytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxBytes: number) {}

  get(key: string): string | undefined {
    const html = this.entries.get(key);
    if (html === undefined) {
      this.misses += 1;
      return undefined;
    }
    this.hits += 1;
    // Most recently used last.
    this.entries.delete(key);
    this.entries.set(key, html);
    return html;
  }

  set(key: string, html: string): void {
    const size = 2 * html.length; // UTF-16 code units
    if (size > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= 2 * old.length;
    }
    this.entries.set(key, html);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= 2 * v.length;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
