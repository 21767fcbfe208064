//! `pop3-proto` inside a WASM host (`wasm32-unknown-unknown`, `no_std` + `alloc`).
//!
//! Two things are exported to JavaScript:
//!
//! - the transcript checks of `pop3-transcript`, run here on the text the host passes in
//!   (`check_transcript`) or on the copies compiled in (`check_embedded`), and the streaming
//!   session `stream_fetch` that `run.mjs` times against the native build;
//! - a small session interface for driving a real POP3 connection from JavaScript
//!   (`session_*`, used by `pop3.mjs`): commands in as text lines, server bytes in, bytes to
//!   send out, and events out in a compact binary encoding.
//!
//! Data crosses the boundary through two buffers this module owns, so no raw pointer from
//! the host is ever turned into a slice: the host asks for `buffer(len)` and writes its input
//! there, and reads every result of `len` bytes at `out_ptr()` in the module's memory.
//!
//! Event records (what `session_events` writes): a kind byte, the command's handle as a
//! little-endian `u32` (0 for none), the payload length as a little-endian `u32`, the
//! payload. Kinds: 1 body bytes (the payload, dot-unstuffed), 2 end of a multi-line reply,
//! 3 any other event (the payload is its one-line text, as in the transcripts' `E:` lines),
//! 4 the session closed (text), 5 STLS accepted: do the TLS handshake, then
//! `session_tls_established`.

#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use pop3_proto::{Client, Config, Event, Handle};
use pop3_transcript::{check, parse_command, render, Depth, Transcript, EMBEDDED};

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

/// Everything the exports share.
struct State {
    /// Where the host writes its input.
    input: Vec<u8>,
    /// Where results go for the host to read.
    out: Vec<u8>,
    sessions: Vec<Option<Client>>,
}

/// The module's state. `wasm32-unknown-unknown` without the atomics feature has one thread,
/// so a `RefCell` is enough; `Sync` is only claimed to put it in a `static`.
struct Global(RefCell<State>);

// SAFETY: this module is built for wasm32-unknown-unknown without threads (no `atomics`
// target feature, no shared memory): there is only ever one thread to touch the cell.
unsafe impl Sync for Global {}

static STATE: Global = Global(RefCell::new(State {
    input: Vec::new(),
    out: Vec::new(),
    sessions: Vec::new(),
}));

fn with<T>(f: impl FnOnce(&mut State) -> T) -> T {
    f(&mut STATE.0.borrow_mut())
}

/// Space for `len` bytes of input; the host writes there before the call that takes them.
#[no_mangle]
pub extern "C" fn buffer(len: usize) -> *mut u8 {
    with(|s| {
        s.input = vec![0; len];
        s.input.as_mut_ptr()
    })
}

/// Where the last result is (its length is what the call returned).
#[no_mangle]
pub extern "C" fn out_ptr() -> *const u8 {
    with(|s| s.out.as_ptr())
}

fn report(s: &mut State, text: String) -> i32 {
    s.out = text.into_bytes();
    -1
}

/// Runs the full transcript check on the input buffer: the name (`name_len` bytes) then the
/// text. Returns 0 when the client follows it, else -1 with the reason at `out_ptr()`
/// (`out_len()` bytes).
#[no_mangle]
pub extern "C" fn check_transcript(name_len: usize) -> i32 {
    with(|s| {
        let input = core::mem::take(&mut s.input);
        let (name, text) = input.split_at(name_len.min(input.len()));
        let (Ok(name), Ok(text)) = (core::str::from_utf8(name), core::str::from_utf8(text)) else {
            return report(s, String::from("the transcript is not UTF-8"));
        };
        run_check(s, name, text)
    })
}

fn run_check(s: &mut State, name: &str, text: &str) -> i32 {
    match Transcript::parse(name, text) {
        Err(e) => report(s, format!("{e}")),
        Ok(t) => match check(&t, Depth::Full) {
            Ok(checked) => {
                s.out = format!("{} replays, {} events", checked.replays, checked.events).into();
                0
            }
            Err(mismatch) => report(s, format!("{mismatch}")),
        },
    }
}

/// The length of the last text result.
#[no_mangle]
pub extern "C" fn out_len() -> usize {
    with(|s| s.out.len())
}

/// How many transcripts are compiled in.
#[no_mangle]
pub extern "C" fn embedded_count() -> usize {
    EMBEDDED.len()
}

/// Checks compiled-in transcript `i`; its name is at `out_ptr()` after `embedded_name(i)`.
#[no_mangle]
pub extern "C" fn check_embedded(i: usize) -> i32 {
    with(|s| match EMBEDDED.get(i) {
        Some((name, text)) => run_check(s, name, text),
        None => report(s, format!("no transcript {i}")),
    })
}

/// Puts the name of compiled-in transcript `i` at `out_ptr()` and returns its length.
#[no_mangle]
pub extern "C" fn embedded_name(i: usize) -> usize {
    with(|s| {
        s.out = EMBEDDED.get(i).map_or("", |(n, _)| n).as_bytes().to_vec();
        s.out.len()
    })
}

/// One session streaming a message of `reps` KiB in reads of `read_size` bytes
/// (`pop3_transcript::stream::fetch`). Returns the body bytes, or -1 (reason at `out_ptr()`).
#[no_mangle]
pub extern "C" fn stream_fetch(read_size: usize, reps: usize) -> f64 {
    match pop3_transcript::stream::fetch(read_size, reps, || {}) {
        Ok(bytes) => bytes as f64,
        Err(e) => with(|s| f64::from(report(s, e))),
    }
}

/// Starts a session; returns its id. Flags: 1 the connection is TLS from the start
/// (implicit TLS). Commands go out as given, as with `Client::send`: whether a password may
/// cross a plaintext connection is the caller's decision here.
#[no_mangle]
pub extern "C" fn session_new(flags: u32) -> u32 {
    let mut config = Config::default();
    config.implicit_tls = flags & 1 != 0;
    with(|s| {
        s.sessions.push(Some(Client::new(config)));
        (s.sessions.len() - 1) as u32
    })
}

fn session<T>(id: u32, f: impl FnOnce(&mut Client, &mut Vec<u8>, &[u8]) -> T) -> Option<T> {
    with(|s| {
        let State {
            input,
            out,
            sessions,
        } = s;
        let client = sessions.get_mut(id as usize)?.as_mut()?;
        Some(f(client, out, input))
    })
}

/// Queues the command line in the input buffer (`len` bytes; `RETR 1`, `USER alice`…, see
/// `pop3_transcript::parse_command`). Returns the command's handle, or -1 (reason at
/// `out_ptr()`).
#[no_mangle]
pub extern "C" fn session_command(id: u32, len: usize) -> i32 {
    session(id, |client, out, input| {
        let line = core::str::from_utf8(&input[..len.min(input.len())]).unwrap_or("");
        let sent = parse_command(line).and_then(|c| client.send(c).map_err(|e| format!("{e}")));
        match sent {
            Ok(handle) => handle.get() as i32,
            Err(e) => {
                *out = e.into_bytes();
                -1
            }
        }
    })
    .unwrap_or(-1)
}

/// Hands the session `len` bytes the server sent (from the input buffer).
#[no_mangle]
pub extern "C" fn session_feed(id: u32, len: usize) -> i32 {
    session(id, |client, _, input| {
        client.handle_input(&input[..len.min(input.len())]);
        0
    })
    .unwrap_or(-1)
}

/// Tells the session the server closed the connection.
#[no_mangle]
pub extern "C" fn session_eof(id: u32) -> i32 {
    session(id, |client, _, _| {
        client.handle_eof();
        0
    })
    .unwrap_or(-1)
}

/// Puts the bytes to send now at `out_ptr()` and returns how many.
#[no_mangle]
pub extern "C" fn session_output(id: u32) -> usize {
    session(id, |client, out, _| {
        out.clear();
        client.poll_transmit(out)
    })
    .unwrap_or(0)
}

/// Puts every event ready now at `out_ptr()`, encoded as the module documentation says, and
/// returns the length; -1 on the session's fatal error (its text at `out_ptr()`).
#[no_mangle]
pub extern "C" fn session_events(id: u32) -> i32 {
    session(id, |client, out, _| {
        out.clear();
        loop {
            // Body runs are copied straight out of the receive buffer (the same records
            // `encode` would write for their `BodyChunk`s).
            client
                .drain_body(|handle, run| {
                    record(1, Some(handle), run, out);
                    Ok::<(), core::convert::Infallible>(())
                })
                .unwrap_or_else(|never| match never {});
            match client.poll_event() {
                Ok(Some(event)) => encode(&event, out),
                Ok(None) => return out.len() as i32,
                Err(e) => {
                    *out = format!("{e}").into_bytes();
                    return -1;
                }
            }
        }
    })
    .unwrap_or(-1)
}

/// One record: kind, handle (0: none) and payload length as little-endian `u32`s, payload.
fn record(kind: u8, handle: Option<Handle>, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(&handle.map_or(0, |h| h.get() as u32).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
}

fn encode(event: &Event, out: &mut Vec<u8>) {
    let text;
    let (kind, payload): (u8, &[u8]) = match event {
        Event::BodyChunk { data, .. } => (1, data),
        Event::MultiEnd { .. } => (2, b""),
        Event::Closed { .. } => {
            text = render::render(event);
            (4, text.as_bytes())
        }
        Event::UpgradeToTls { .. } => (5, b""),
        _ => {
            text = render::render(event);
            (3, text.as_bytes())
        }
    };
    record(kind, event.handle(), payload, out);
}

/// Reports the TLS handshake after kind-5 event done.
#[no_mangle]
pub extern "C" fn session_tls_established(id: u32) -> i32 {
    session(id, |client, out, _| match client.tls_established() {
        Ok(()) => 0,
        Err(e) => {
            *out = format!("{e}").into_bytes();
            -1
        }
    })
    .unwrap_or(-1)
}

/// Ends a session and frees it.
#[no_mangle]
pub extern "C" fn session_free(id: u32) {
    with(|s| {
        if let Some(slot) = s.sessions.get_mut(id as usize) {
            *slot = None;
        }
    });
}
