/**
 * Camera URLs often carry credentials (rtsp://admin:secret@cam/...). Everything that reaches a log line, an error
 * message or MQTT goes through here first.
 */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^@/\s]*)@/gi;
const SECRET_QUERY = /([?&](?:password|passwd|pwd|pass|token|key|auth|apikey|api_key|secret)=)[^&\s]*/gi;

export function maskCredentials(text: string): string {
  return text.replace(USERINFO, '$1$2:***@').replace(SECRET_QUERY, '$1***');
}

/** Strips terminal colour codes (fswebcam colours its errors) so messages and matching see plain text. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, '');
}

/** Keeps the last `maxLines` lines of a process's stderr, masked, so an exit can be explained without unbounded memory. */
export class StderrTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly maxLines = 20, private readonly maxLineLength = 500) {}

  push(chunk: Buffer | string): void {
    const text = this.partial + stripAnsi(chunk.toString());
    const parts = text.split(/\r?\n|\r/);
    this.partial = (parts.pop() ?? '').slice(-this.maxLineLength);
    for (const line of parts) this.add(line);
  }

  /** The retained lines, oldest first, including an unterminated last line. */
  text(): string {
    const all = this.partial.trim() ? [...this.lines, maskCredentials(this.partial)] : this.lines;
    return all.join('\n');
  }

  private add(line: string): void {
    const trimmed = line.trim();
    if (!trimmed) return;
    this.lines.push(maskCredentials(trimmed.slice(0, this.maxLineLength)));
    if (this.lines.length > this.maxLines) this.lines.shift();
  }
}
