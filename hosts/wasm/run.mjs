// Runs pop3-proto's transcripts inside the WASM build (hosts/wasm) under Node.js, and fails
// on any mismatch:
//
//   1. every file of pop3-proto/tests/transcripts/, passed in as text, through the module's
//      full check (every cut of the server's bytes), and every copy compiled into the module;
//   2. the transcripts that use plain commands again, driven from JavaScript through the
//      session interface (commands in, server bytes in, output and events out), comparing
//      the bytes sent with the C: lines and the decoded events with the E: lines;
//   3. the decode speed of one session streaming a message, for BENCHMARKS.md (the native
//      figure comes from `cargo run --release -p pop3-transcript --example decode_speed`).
//
// Usage: node hosts/wasm/run.mjs path/to/pop3_wasm_host.wasm [transcript folder]

import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pop3Wasm, renderEvents, START_TLS } from './pop3-wasm.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const wasmPath = process.argv[2];
const folder = process.argv[3] ?? join(here, '../../pop3-proto/tests/transcripts');
if (!wasmPath) {
  console.error('usage: node run.mjs pop3_wasm_host.wasm [transcript folder]');
  process.exit(2);
}
const pop3 = await Pop3Wasm.load(readFileSync(wasmPath));
const failures = [];

// 1. The full check inside WASM, on the files and on the compiled-in copies.
const files = readdirSync(folder).filter((f) => f.endsWith('.txt')).sort();
for (const name of files) {
  const result = pop3.checkTranscript(name, readFileSync(join(folder, name), 'utf8'));
  if (!result.ok) failures.push(`${name}: ${result.text}`);
}
const embedded = pop3.embeddedNames();
if (embedded.join() !== files.join()) {
  failures.push(`compiled-in transcripts ${embedded.join()} are not the files ${files.join()}`);
}
for (let i = 0; i < embedded.length; i++) {
  const result = pop3.checkEmbedded(i);
  if (!result.ok) failures.push(`compiled-in ${embedded[i]}: ${result.text}`);
}
console.log(`wasm: ${files.length} transcripts checked inside WASM (every cut), ` +
  `${embedded.length} compiled-in copies too`);

// 2. The session interface, driven from JavaScript.
const plain = /^(USER|PASS|RPOP|STAT|LIST|UIDL|RETR|TOP|DELE|NOOP|RSET|QUIT|CAPA|STLS|UTF8|LANG|RAW\+?)( |$)/;
let driven = 0;
for (const name of files) {
  const lines = readFileSync(join(folder, name), 'utf8').split('\n');
  // Only transcripts of plain commands with the default configuration and no error.
  if (lines.some((l) => l.startsWith('P: ') || l.startsWith('X: ') || l.startsWith('# config') ||
      l === '# eof' || (l.startsWith('C: ') && !plain.test(l.slice(3))))) continue;
  const failure = drive(name, lines);
  if (failure) failures.push(`${name} (from JavaScript): ${failure}`);
  driven++;
}
console.log(`wasm: ${driven} transcripts driven from JavaScript through the session interface`);

function unescape(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) {
      const c = text[++i];
      if (c === 'r') out.push(13);
      else if (c === 'n') out.push(10);
      else if (c === 't') out.push(9);
      else if (c === '\\') out.push(92);
      else if (c === 'x') { out.push(parseInt(text.slice(i + 1, i + 3), 16)); i += 2; }
    } else {
      out.push(...Buffer.from(text[i], 'utf8'));
    }
  }
  return Buffer.from(out);
}

function drive(name, lines) {
  const session = pop3.newSession(0);
  const events = [];
  let sent = Buffer.alloc(0);
  let expected = Buffer.alloc(0);
  let block = [];
  const flush = () => {
    if (block.length === 0) return null;
    if (!sent.equals(expected)) return `sent ${JSON.stringify(sent.toString())}, wanted ${JSON.stringify(expected.toString())}`;
    session.feed(Buffer.concat(block));
    block = [];
    const got = session.events();
    if (got.error) return `error ${got.error}`;
    events.push(...got.events);
    // No real TLS here: the handshake "succeeds" at once, as in the native replay.
    if (got.events.some((e) => e.kind === START_TLS) && session.tlsEstablished() !== 0) {
      return `tls_established: ${session.lastText()}`;
    }
    sent = Buffer.concat([sent, session.output()]);
    return null;
  };
  for (const line of lines) {
    if (line.startsWith('S: ') || line === 'S:') {
      block.push(Buffer.concat([unescape(line.slice(3)), Buffer.from('\r\n')]));
    } else if (line.startsWith('S> ')) {
      block.push(unescape(line.slice(3)));
    } else if (line.startsWith('C: ')) {
      const problem = flush();
      if (problem) return problem;
      const command = line.slice(3);
      expected = Buffer.concat([expected, unescape(command.replace(/^RAW\+? /, '')), Buffer.from('\r\n')]);
      const handle = session.command(command);
      if (handle < 0) return `command ${command}: ${session.lastText()}`;
      sent = Buffer.concat([sent, session.output()]);
    }
  }
  const problem = flush();
  if (problem) return problem;
  session.free();
  const want = lines.filter((l) => l.startsWith('E: ')).map((l) => l.slice(3));
  const got = renderEvents(events);
  if (got.join('\n') !== want.join('\n')) {
    return `events\n    ${got.join('\n    ')}\n  wanted\n    ${want.join('\n    ')}`;
  }
  return null;
}

// 3. Decode speed inside WASM: the same session the native example times.
const reps = 256 * 1024;
let best = Infinity;
let bytes = 0;
for (let i = 0; i < 5; i++) {
  const start = performance.now();
  bytes = pop3.streamFetch(64 * 1024, reps);
  best = Math.min(best, performance.now() - start);
  if (bytes < 0) failures.push(`stream_fetch: ${pop3.lastText()}`);
}
console.log(`wasm: ${bytes} body bytes in ${best.toFixed(1)} ms, ${(bytes / best / 1e3).toFixed(0)} MB/s (best of 5)`);

if (failures.length > 0) {
  console.error(`wasm: ${failures.length} failure(s):\n${failures.join('\n')}`);
  process.exit(1);
}
console.log('wasm: every transcript matches');
