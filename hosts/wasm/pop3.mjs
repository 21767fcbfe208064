// A real POP3 session driven from JavaScript through the WASM build of pop3-proto: Node does
// the socket (and TLS), the module does the protocol. Logs in with USER/PASS, prints STAT,
// writes message N to stdout when asked (--retr N), and QUITs.
//
//   POP3_PASSWORD=secret node hosts/wasm/pop3.mjs [--tls implicit --ca ca.pem [--name host]]
//       [--insecure] [--retr N] [--wasm pop3_wasm_host.wasm] HOST PORT USER
//
// --insecure allows USER/PASS over a plaintext connection (a test on loopback); without it
// this script refuses to send the password in the clear. (The session interface sends the
// commands it is given, as Client::send does; the login procedures of pop3-proto are where
// the core itself enforces that rule.) Exit status 0 when QUIT was
// committed, 1 on any error (printed on stderr).

import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pop3Wasm, BODY, END, OTHER, CLOSED, START_TLS } from './pop3-wasm.mjs';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const flag = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? false : (args.splice(i, 1), true);
};
const here = dirname(fileURLToPath(import.meta.url));
const mode = opt('--tls') ?? 'none';
const ca = opt('--ca');
const name = opt('--name');
const retr = opt('--retr');
const wasm = opt('--wasm') ?? join(here, '../../target/hosts/wasm32-unknown-unknown/release/pop3_wasm_host.wasm');
const insecure = flag('--insecure');
const [host, port, user] = args;
const password = process.env.POP3_PASSWORD;
if (!host || !port || !user || password === undefined || !['none', 'implicit'].includes(mode)) {
  console.error('usage: POP3_PASSWORD=… node pop3.mjs [--tls implicit --ca FILE [--name HOST]] [--insecure] [--retr N] HOST PORT USER');
  process.exit(2);
}

const fail = (why) => {
  console.error(`pop3.mjs: ${why}`);
  process.exit(1);
};
if (mode === 'none' && !insecure) {
  fail('refusing to send the password without TLS: use --tls implicit, or --insecure on loopback');
}
const pop3 = await Pop3Wasm.load(readFileSync(wasm));
const session = pop3.newSession(mode === 'implicit' ? 1 : 0);
const socket = mode === 'implicit'
  ? tls.connect({ host, port: Number(port), ca: readFileSync(ca), servername: name ?? host })
  : net.connect({ host, port: Number(port) });
socket.setTimeout(30000, () => fail('timed out'));
socket.on('error', (e) => fail(e.message));

let greeted = false;
let quitCommitted = false;
const send = () => {
  const out = session.output();
  if (out.length > 0) socket.write(out);
};
const command = (line) => {
  const handle = session.command(line);
  if (handle < 0) fail(`${line.split(' ')[0]}: ${session.lastText()}`);
  return handle;
};
const handles = new Map(); // handle -> command word, to report refusals

socket.on('data', (chunk) => {
  session.feed(chunk);
  const { events, error } = session.events();
  if (error) fail(error);
  for (const e of events) {
    if (e.kind === BODY) {
      process.stdout.write(e.data);
    } else if (e.kind === START_TLS) {
      fail('STLS is not used by this example');
    } else if (e.kind === OTHER || e.kind === CLOSED) {
      const text = e.data.toString();
      console.error(text);
      if (/^status #\d+ -ERR/.test(text)) fail(`the server refused ${handles.get(e.handle)}: ${text}`);
      const queue = (lines) => {
        for (const line of lines) handles.set(command(line), line.split(' ')[0]);
      };
      if (!greeted && text.startsWith('greeting')) {
        greeted = true;
        // USER, then PASS (the module sends it only after USER's +OK)...
        queue([`USER ${user}`, `PASS ${password}`]);
      } else if (handles.get(e.handle) === 'PASS' && text.startsWith('status')) {
        // ...and once logged in, the rest at once: pipelined if the server can.
        queue(['STAT', ...(retr ? [`RETR ${retr}`] : []), 'QUIT']);
      }
      if (e.kind === CLOSED) quitCommitted = text.includes(' committed ');
    } else if (e.kind === END) {
      console.error(`end #${e.handle}`);
    }
  }
  send();
});
socket.on('end', () => {
  session.eof();
  const { error } = session.events();
  if (error && !quitCommitted) fail(error);
  socket.end();
});
socket.on('close', () => {
  session.free();
  process.exit(quitCommitted ? 0 : 1);
});
