/**
 * Splits a byte stream of concatenated JPEGs (ffmpeg `-f image2pipe -vcodec mjpeg`) into single JPEG frames.
 *
 * It walks the JPEG structure instead of searching for the next FF D9: header segments are skipped by their length
 * (so an EXIF thumbnail with its own SOI/EOI inside APP1 does not cut the frame), and inside entropy-coded data only
 * a real marker counts (FF 00 stuffing and RSTn are skipped). Garbage between frames is discarded as it arrives and a
 * frame that grows past `maxFrameBytes` is dropped, so a stream without markers cannot grow memory.
 */
export interface MjpegSplitterOptions {
  /** Largest frame accepted; bigger ones are dropped (default 16 MiB). Also bounds the internal buffer. */
  maxFrameBytes?: number;
}

type State = 'seek' | 'header' | 'entropy';

const SOI = Buffer.from([0xff, 0xd8]);

export class MjpegSplitter {
  /** Frames returned so far. */
  framesOut = 0;
  /** Bytes thrown away because they were outside any frame (garbage). */
  discardedBytes = 0;
  /** Frames started but abandoned: corrupt structure, truncated by a new SOI, or larger than maxFrameBytes. */
  droppedFrames = 0;

  private buf: Buffer = Buffer.alloc(0);
  private pos = 0;
  private state: State = 'seek';
  private readonly maxFrameBytes: number;

  constructor(options: MjpegSplitterOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? 16 * 1024 * 1024;
  }

  /** Bytes currently held while waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.buf.length;
  }

  /** Feeds one chunk; returns the frames it completed (each a private copy). */
  push(chunk: Buffer): Buffer[] {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const frames: Buffer[] = [];
    for (;;) {
      let progressed = this.state === 'seek' ? this.seek() : this.state === 'header' ? this.header() : this.entropy(frames);
      if (this.state !== 'seek' && this.buf.length > this.maxFrameBytes) progressed = this.abandonFrame(1);
      if (!progressed) break;
    }
    return frames;
  }

  /** Forgets any partial frame (after the producer restarted). */
  reset(): void {
    this.discardedBytes += this.buf.length;
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.state = 'seek';
  }

  private seek(): boolean {
    const start = this.buf.indexOf(SOI);
    if (start < 0) {
      // Keep a trailing FF: it may be the first half of an SOI split across chunks.
      const keep = this.buf.length > 0 && this.buf[this.buf.length - 1] === 0xff ? 1 : 0;
      this.discardedBytes += this.buf.length - keep;
      this.buf = this.buf.subarray(this.buf.length - keep);
      return false;
    }
    this.discardedBytes += start;
    this.buf = this.buf.subarray(start);
    this.pos = 2;
    this.state = 'header';
    return true;
  }

  /** Between SOI and the first scan: a sequence of marker segments with explicit lengths. */
  private header(): boolean {
    const b = this.buf;
    if (this.pos + 1 >= b.length) return false;
    if (b[this.pos] !== 0xff) return this.abandonFrame(1);
    const marker = b[this.pos + 1]!;
    if (marker === 0xff) { this.pos += 1; return true; } // fill byte
    if (marker === 0xd8) return this.abandonFrame(this.pos); // a new image began: the previous one was truncated
    if (marker === 0xd9) return this.abandonFrame(this.pos + 2); // an image without a scan has nothing to show
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { this.pos += 2; return true; }
    if (this.pos + 3 >= b.length) return false;
    const length = b.readUInt16BE(this.pos + 2);
    if (length < 2) return this.abandonFrame(1);
    this.pos += 2 + length;
    if (marker === 0xda) this.state = 'entropy';
    return true;
  }

  /** Entropy-coded data: ends at the next real marker (EOI, or another segment in progressive JPEGs). */
  private entropy(frames: Buffer[]): boolean {
    const b = this.buf;
    if (this.pos >= b.length) return false;
    const ff = b.indexOf(0xff, this.pos);
    if (ff < 0 || ff + 1 >= b.length) {
      this.pos = ff < 0 ? b.length : ff;
      return false;
    }
    const next = b[ff + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) { this.pos = ff + 2; return true; }
    if (next === 0xff) { this.pos = ff + 1; return true; }
    if (next === 0xd9) {
      frames.push(Buffer.from(b.subarray(0, ff + 2)));
      this.framesOut += 1;
      this.buf = b.subarray(ff + 2);
      this.pos = 0;
      this.state = 'seek';
      return true;
    }
    if (next === 0xd8) return this.abandonFrame(ff);
    this.pos = ff;
    this.state = 'header';
    return true;
  }

  /** Drops the frame in progress, discards `skip` bytes and looks for the next SOI. */
  private abandonFrame(skip: number): boolean {
    this.droppedFrames += 1;
    this.discardedBytes += Math.min(skip, this.buf.length);
    this.buf = this.buf.subarray(skip);
    this.pos = 0;
    this.state = 'seek';
    return true;
  }
}
