// Header detection: whether the first row is the attribute's name or an obvious header word rather than a value.

/** Lower case, and runs of spaces, `_`, `-` and `.` as one space: `E-Mail_Address` → `e mail address`. */
export function headerKey(text: string): string {
  return text.trim().toLowerCase().replace(/[\s_.-]+/g, ' ').trim();
}

export class HeaderMatcher {
  private readonly attributeKey: string;
  private readonly words: ReadonlySet<string>;

  constructor(attributeName: string, words: readonly string[]) {
    this.attributeKey = headerKey(attributeName);
    this.words = new Set(words.map(headerKey));
  }

  /** How the first row's (trimmed) first value makes it a header, if it does. */
  match(value: string): 'attribute' | 'word' | undefined {
    const key = headerKey(value);
    if (key === this.attributeKey) return 'attribute';
    return this.words.has(key) ? 'word' : undefined;
  }
}
