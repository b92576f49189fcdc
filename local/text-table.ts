// Plain-text tables for a terminal (the CLI's records, the benchmark's reports): one renderer, padded by display width.
import stringWidth from 'string-width';

export type Align = 'left' | 'right';

export interface TextTableOptions {
  /** Each column's alignment. @default every column left */
  align?: readonly Align[];
  /** Put before every line. @default '' */
  indent?: string;
}

/**
 * A header, a rule of dashes and the rows, columns two spaces apart and trailing spaces trimmed.
 * Widths are what a terminal shows (string-width): an emoji takes two columns, a combining accent none,
 * so names from macOS (NFD), in CJK or with emoji keep their columns aligned.
 */
export function textTable(header: readonly string[], rows: readonly (readonly string[])[], options: TextTableOptions = {}): string {
  const indent = options.indent ?? '';
  const widths = header.map((h, i) => Math.max(stringWidth(h), ...rows.map((row) => stringWidth(row[i] ?? ''))));
  const pad = (cell: string, i: number) => {
    const fill = ' '.repeat(Math.max(0, (widths[i] ?? 0) - stringWidth(cell)));
    return options.align?.[i] === 'right' ? fill + cell : cell + fill;
  };
  const line = (cells: readonly string[]) => `${indent}${header.map((_, i) => pad(cells[i] ?? '', i)).join('  ')}`.trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

let graphemes: Intl.Segmenter | undefined;

/**
 * `text` cut to at most `width` terminal columns, ending in `…` when cut. Cut between whole visible
 * characters (grapheme clusters), so an emoji, a flag or a letter with its accent is never split.
 */
export function truncate(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  let kept = '';
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = stringWidth(segment);
    if (used + w > width - 1) break;
    kept += segment;
    used += w;
  }
  return `${kept}…`;
}
