/**
 * Docker's multiplexed stream (8-byte header: stream, 0, 0, 0, size big-endian; then the payload),
 * read as it arrives: chunks split frames anywhere, so a header or a payload may span chunks.
 * Payloads are handed on as views into the chunks, without copying.
 */
export class StdcopyDemuxer {
  private readonly header = Buffer.alloc(8);
  private headerFilled = 0;
  /** Payload bytes of the current frame still to come. */
  private remaining = 0;

  constructor(private readonly onPayload: (payload: Buffer) => void) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining > 0) {
        const end = Math.min(chunk.length, at + this.remaining);
        this.onPayload(chunk.subarray(at, end));
        this.remaining -= end - at;
        at = end;
        continue;
      }
      if (this.headerFilled === 0 && chunk.length - at >= 8) {
        this.remaining = chunk.readUInt32BE(at + 4);
        at += 8;
        continue;
      }
      const taken = Math.min(8 - this.headerFilled, chunk.length - at);
      chunk.copy(this.header, this.headerFilled, at, at + taken);
      this.headerFilled += taken;
      at += taken;
      if (this.headerFilled === 8) {
        this.remaining = this.header.readUInt32BE(4);
        this.headerFilled = 0;
      }
    }
  }
}
