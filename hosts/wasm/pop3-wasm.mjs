// A JavaScript face for the WASM build of pop3-proto (hosts/wasm/src/lib.rs): loads the
// module and wraps its exports. Used by run.mjs (the transcript checks) and pop3.mjs (a real
// POP3 session over a Node socket).

const decoder = new TextDecoder();

/** Event kinds, as the module encodes them. */
export const BODY = 1, END = 2, OTHER = 3, CLOSED = 4, START_TLS = 5;

export class Pop3Wasm {
  /** Instantiates the module from its bytes. */
  static async load(bytes) {
    const { instance } = await WebAssembly.instantiate(bytes, {});
    return new Pop3Wasm(instance.exports);
  }

  constructor(exports) {
    this.x = exports;
  }

  /** Copies bytes (a Buffer, Uint8Array or string) into the module's input buffer. */
  put(data) {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const ptr = this.x.buffer(bytes.length);
    new Uint8Array(this.x.memory.buffer, ptr, bytes.length).set(bytes);
    return bytes.length;
  }

  /** The module's last result, `len` bytes (copied: the memory may grow and move). */
  out(len) {
    return Buffer.from(new Uint8Array(this.x.memory.buffer, this.x.out_ptr(), len));
  }

  lastText() {
    return decoder.decode(this.out(this.x.out_len()));
  }

  checkTranscript(name, text) {
    const nameLen = Buffer.byteLength(name);
    this.put(Buffer.concat([Buffer.from(name), Buffer.from(text, 'utf8')]));
    const rc = this.x.check_transcript(nameLen);
    return { ok: rc === 0, text: this.lastText() };
  }

  embeddedNames() {
    const names = [];
    for (let i = 0; i < this.x.embedded_count(); i++) {
      names.push(decoder.decode(this.out(this.x.embedded_name(i))));
    }
    return names;
  }

  checkEmbedded(i) {
    const rc = this.x.check_embedded(i);
    return { ok: rc === 0, text: this.lastText() };
  }

  /** One session streaming `reps` KiB in reads of `readSize`: body bytes, or -1. */
  streamFetch(readSize, reps) {
    return this.x.stream_fetch(readSize, reps);
  }

  /** A client session. Flags: 1 implicit TLS. */
  newSession(flags = 0) {
    return new Session(this, this.x.session_new(flags));
  }
}

export class Session {
  constructor(pop3, id) {
    this.pop3 = pop3;
    this.id = id;
  }

  /** Queues a command line (`RETR 1`); returns its handle, or -1 (see lastText()). */
  command(line) {
    const len = this.pop3.put(line);
    return this.pop3.x.session_command(this.id, len);
  }

  lastText() {
    return this.pop3.lastText();
  }

  /** Hands over bytes the server sent. */
  feed(bytes) {
    const len = this.pop3.put(bytes);
    this.pop3.x.session_feed(this.id, len);
  }

  /** The server closed the connection. */
  eof() {
    this.pop3.x.session_eof(this.id);
  }

  /** The bytes to send now (a Buffer, maybe empty). */
  output() {
    return this.pop3.out(this.pop3.x.session_output(this.id));
  }

  /** Every event ready now: { events: [{ kind, handle, data }], error }. */
  events() {
    const len = this.pop3.x.session_events(this.id);
    if (len < 0) return { events: [], error: this.lastText() };
    const bytes = this.pop3.out(len);
    const events = [];
    for (let at = 0; at < bytes.length;) {
      const kind = bytes[at];
      const handle = bytes.readUInt32LE(at + 1);
      const size = bytes.readUInt32LE(at + 5);
      events.push({ kind, handle, data: bytes.subarray(at + 9, at + 9 + size) });
      at += 9 + size;
    }
    return { events, error: null };
  }

  /** After a START_TLS event and the handshake. */
  tlsEstablished() {
    return this.pop3.x.session_tls_established(this.id);
  }

  free() {
    this.pop3.x.session_free(this.id);
  }
}

function escape(bytes) {
  let s = '';
  for (const b of bytes) {
    if (b === 13) s += '\\r';
    else if (b === 10) s += '\\n';
    else if (b === 92) s += '\\\\';
    else if (b === 34) s += '\\"';
    else if (b >= 0x20 && b <= 0x7e) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return s;
}

/** Events as the transcripts' E: lines, adjacent body chunks of one command merged. */
export function renderEvents(events) {
  const lines = [];
  let body = null;
  const flush = () => {
    if (body) lines.push(`body #${body.handle} "${escape(Buffer.concat(body.parts))}"`);
    body = null;
  };
  for (const e of events) {
    if (e.kind === BODY) {
      if (body && body.handle === e.handle) body.parts.push(e.data);
      else { flush(); body = { handle: e.handle, parts: [e.data] }; }
      continue;
    }
    flush();
    if (e.kind === END) lines.push(`end #${e.handle}`);
    else if (e.kind === START_TLS) lines.push(`tls #${e.handle}`);
    else lines.push(decoder.decode(e.data));
  }
  flush();
  return lines;
}
