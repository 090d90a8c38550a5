// A Node fs error in words: libuv's description and the errno name, without the syscall and path.

/** "permission denied (EACCES)" from a Node fs error; undefined for anything else. */
export function osReason(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  if (code === 'ENOENT') return 'file not found (ENOENT)';
  if (code === 'EISDIR') return 'is a directory, not a file (EISDIR)';
  // libuv's message is "CODE: description, syscall 'path'"
  const description = /^[A-Z0-9_]+: ([^,]+)/.exec((err as Error).message)?.[1];
  return description ? `${description} (${code})` : code;
}
