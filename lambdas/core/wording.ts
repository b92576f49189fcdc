// Small pieces of the sentences reasons and notes are written in, shared by naming, the pre-flight and the trigger.

/** A size as a person reads it: `60 MB`, `1.5 KB`, `512 bytes`. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1).replace(/\.0$/, '')} MB`;
  if (bytes >= 1024) return `${(bytes / 1024).toFixed(1).replace(/\.0$/, '')} KB`;
  return `${bytes} bytes`;
}

/** A note as a sentence: capitalised, and ending in a full stop unless it has its own. */
export function sentence(note: string): string {
  return `${note.charAt(0).toUpperCase()}${note.slice(1)}${/[.?!]$/.test(note) ? '' : '.'}`;
}
