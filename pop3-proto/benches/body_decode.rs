//! Body decoding throughput: the full `Client` against a bare `memmem` scan.
//!
//! Builds a 256 MiB dot-stuffed RETR reply in memory (76-byte CRLF lines, about 3% of them
//! starting with a stuffed dot, deterministic pseudo-random content) and measures, over the
//! same bytes:
//!
//! - (a) `memchr::memmem::Finder::new(b"\r\n.")` finding every occurrence: the floor any
//!   unstuffer built on memmem has to pay;
//! - (b) a `Client` in the TRANSACTION state decoding the reply, fed in 64 KiB reads with
//!   `handle_input` (one copy into the receive buffer), every `BodyChunk` dropped at once;
//! - (c) the same through `read_space` + copy + `commit_read`, the zero-copy read path of a
//!   driver (the copy stands for the kernel's copy in `read`); then the same read path with
//!   the body taken by `Client::poll_body` (a `Bytes` per run, no `Event`) and by
//!   `Client::drain_body` (each run borrowed: no `Bytes`, no reference count);
//! - (d) diagnostics: `Unstuffer::step` alone over the slice (no session, no copy), plain
//!   64 KiB `memcpy`s of the same bytes (decoder cost vs copy cost), memmem for `\r\n.\r\n`
//!   (matches once; DESIGN.md quotes its speed), memmem for `\r\n.` over one 64 KiB block
//!   kept in cache (what the decoder's scan of a fresh read really sees), and the copy plus
//!   `Unstuffer::step` over one buffer with no session at all (what `drain_body` would cost
//!   with no bookkeeping), and the copy plus a memmem count of each read right after it
//!   (no unstuffing, no session: the fastest any path that copies and scans a read can be,
//!   since a freshly written block scans slower than the in-cache block of the floor).
//!
//! The rounds are interleaved and each figure is the best of `RUNS`.
//!
//! Run: `cargo bench -p pop3-proto --bench body_decode`. The targets are (b)/(a) >= 0.5 and
//! (c) at >= 0.90 of the speed of (d)'s copy plus (d)'s in-cache scan, the floor of a receive
//! path that copies each read once. The first is printed with the floor's own ratio to (a):
//! on a host where memmem out of cache is faster than memcpy, no copying path reaches 0.5.

#[path = "../tests/support/body.rs"]
mod body;

use body::{Rng, ALPHABET, LINE, RETR_OK};
use memchr::memmem::Finder;
use pop3_proto::codec::dot::{Step, Unstuffer};
use pop3_proto::{Client, Command, Config, Event, Handle, Password, UserName};
use std::hint::black_box;
use std::time::{Duration, Instant};

const BODY: usize = 256 * 1024 * 1024;
const READ: usize = 64 * 1024;
const RUNS: usize = 10;

/// The RETR reply as sent, and how many body bytes it unstuffs to.
struct Reply {
    wire: Vec<u8>,
    body_len: u64,
    stuffed_lines: u64,
}

/// `RETR_OK`, about `BODY` bytes of 76-byte lines (3% dot-stuffed), then `.` CRLF. Unlike the
/// tests' repeated template, every line is drawn afresh and stuffed with probability 3%: the
/// input the figures in BENCHMARKS.md were measured on.
fn reply() -> Reply {
    let mut rng = Rng::new();
    let mut wire = Vec::with_capacity(RETR_OK.len() + BODY + LINE + 3);
    wire.extend_from_slice(RETR_OK);
    let (mut body_len, mut stuffed_lines) = (0u64, 0u64);
    let mut line = [0u8; LINE];
    line[LINE - 2..].copy_from_slice(b"\r\n");
    while wire.len() - RETR_OK.len() < BODY {
        let mut bits = 0u64;
        for (i, b) in line[..LINE - 2].iter_mut().enumerate() {
            if i % 8 == 0 {
                bits = rng.next();
            }
            *b = ALPHABET[(bits & 0xff) as usize % ALPHABET.len()];
            bits >>= 8;
        }
        if rng.next() % 100 < 3 {
            line[..2].copy_from_slice(b"..");
            stuffed_lines += 1;
            body_len += LINE as u64 - 1;
        } else {
            if line[0] == b'.' {
                line[0] = b'x';
            }
            body_len += LINE as u64;
        }
        wire.extend_from_slice(&line);
    }
    wire.extend_from_slice(b".\r\n");
    Reply {
        wire,
        body_len,
        stuffed_lines,
    }
}

/// A client in the TRANSACTION state with `RETR 1` sent.
fn client() -> (Client, Handle) {
    let mut config = Config::default();
    config.read_size = READ;
    let mut client = Client::new(config);
    let mut out = Vec::new();
    client.handle_input(b"+OK ready\r\n");
    client.poll_event().unwrap();
    client
        .send(Command::User(UserName::new("u").unwrap()))
        .unwrap();
    client.poll_transmit(&mut out);
    client.handle_input(b"+OK\r\n");
    client.poll_event().unwrap();
    client
        .send(Command::Pass(Password::new("p").unwrap()))
        .unwrap();
    client.poll_transmit(&mut out);
    client.handle_input(b"+OK\r\n");
    client.poll_event().unwrap();
    let retr = client.send(Command::Retr(1.try_into().unwrap())).unwrap();
    client.poll_transmit(&mut out);
    (client, retr)
}

/// What one decode of the reply produced.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Decoded {
    bytes: u64,
    chunks: u64,
    ends: u64,
}

impl Decoded {
    /// Counts a body chunk of `retr`; the caller drops it right after.
    #[inline]
    fn chunk(&mut self, handle: Handle, retr: Handle, data: &bytes::Bytes) {
        debug_assert_eq!(handle, retr);
        self.bytes += data.len() as u64;
        self.chunks += 1;
        black_box(data);
    }
}

/// Takes every event ready now, after each call of `fast` (a fast path taking the body
/// runs it can, or nothing); each chunk is dropped as soon as it is counted.
#[inline]
fn drain(
    client: &mut Client,
    retr: Handle,
    out: &mut Decoded,
    fast: &mut impl FnMut(&mut Client, &mut Decoded),
) {
    loop {
        fast(client, out);
        match client.poll_event().unwrap() {
            Some(Event::BodyChunk { handle, data }) => out.chunk(handle, retr, &data),
            Some(Event::MultiEnd { .. }) => out.ends += 1,
            Some(Event::MultiStart { .. }) => {}
            Some(other) => panic!("unexpected event {other:?}"),
            None => break,
        }
    }
}

/// No fast path: every chunk through `poll_event`.
fn events_only(_: &mut Client, _: &mut Decoded) {}

fn decode_handle_input(wire: &[u8]) -> Decoded {
    let (mut client, retr) = client();
    let mut out = Decoded::default();
    for read in wire.chunks(READ) {
        client.handle_input(black_box(read));
        drain(&mut client, retr, &mut out, &mut events_only);
    }
    out
}

/// The read path of a driver (`read_space`, copy, `commit_read`), the body taken by `fast`
/// and `poll_event`.
fn decode_read_space_with(
    wire: &[u8],
    mut fast: impl FnMut(&mut Client, Handle, &mut Decoded),
) -> Decoded {
    let (mut client, retr) = client();
    let mut out = Decoded::default();
    for read in wire.chunks(READ) {
        let space = client.read_space();
        space[..read.len()].copy_from_slice(black_box(read));
        client.commit_read(read.len()).unwrap();
        drain(&mut client, retr, &mut out, &mut |c, o| fast(c, retr, o));
    }
    out
}

fn decode_read_space(wire: &[u8]) -> Decoded {
    decode_read_space_with(wire, |_, _, _| {})
}

/// (c) with `poll_body` taking the body chunks, `poll_event` the rest.
fn decode_read_space_poll_body(wire: &[u8]) -> Decoded {
    decode_read_space_with(wire, |client, retr, out| {
        while let Some((handle, data)) = client.poll_body() {
            out.chunk(handle, retr, &data);
        }
    })
}

/// (c) with `drain_body` handing the body runs out borrowed, `poll_event` the rest.
fn decode_read_space_drain_body(wire: &[u8]) -> Decoded {
    decode_read_space_with(wire, |client, retr, out| {
        let drained = client.drain_body(|handle, run| {
            debug_assert_eq!(handle, retr);
            out.bytes += run.len() as u64;
            out.chunks += 1;
            black_box(run);
            Ok::<(), std::convert::Infallible>(())
        });
        black_box(drained.is_ok());
    })
}

/// Every `\r\n.` in the bytes.
fn memmem_scan(wire: &[u8]) -> usize {
    let finder = Finder::new(b"\r\n.");
    finder.find_iter(black_box(wire)).count()
}

/// Every `\r\n.\r\n` (only the terminator): memmem with a needle that almost never matches.
fn memmem_terminator_scan(wire: &[u8]) -> usize {
    let finder = Finder::new(b"\r\n.\r\n");
    finder.find_iter(black_box(wire)).count()
}

/// Every `\r\n.` in the first 64 KiB of the bytes, scanned over and over until as many
/// bytes were scanned as `wire` has: memmem on data already in cache, as a driver's read
/// buffer is.
fn memmem_in_cache(wire: &[u8]) -> usize {
    let finder = Finder::new(b"\r\n.");
    let block = &wire[..READ];
    let mut found = 0;
    for _ in 0..wire.len() / READ {
        found += finder.find_iter(black_box(block)).count();
    }
    found
}

/// The unstuffer alone over the body, as one slice (no session, no copy, no events).
fn unstuffer_only(wire: &[u8]) -> Decoded {
    let mut u = Unstuffer::new(false);
    let mut input = &wire[RETR_OK.len()..];
    let mut out = Decoded::default();
    loop {
        match u.step(input) {
            Step::Data(n) => {
                out.bytes += n as u64;
                out.chunks += 1;
                black_box(&input[..n]);
                input = &input[n..];
            }
            Step::SkipDot => input = &input[1..],
            Step::End(n) => {
                input = &input[n..];
                out.ends += 1;
                break;
            }
            Step::NeedMore => break,
        }
    }
    assert!(input.is_empty());
    out
}

/// The copy and the unstuffer with no session: each read copied into one buffer and the
/// runs stepped over borrowed, what `drain_body` does minus the session's bookkeeping.
fn copy_and_unstuff(wire: &[u8]) -> Decoded {
    let mut buf = vec![0u8; READ + 8];
    let mut u = Unstuffer::new(false);
    let (mut start, mut len) = (0usize, 0usize);
    let mut out = Decoded::default();
    for read in wire[RETR_OK.len()..].chunks(READ) {
        if start + len + read.len() > buf.len() {
            buf.copy_within(start..start + len, 0);
            start = 0;
        }
        buf[start + len..start + len + read.len()].copy_from_slice(black_box(read));
        len += read.len();
        loop {
            match u.step(&buf[start..start + len]) {
                Step::Data(n) => {
                    out.bytes += n as u64;
                    out.chunks += 1;
                    black_box(&buf[start..start + n]);
                    start += n;
                    len -= n;
                }
                Step::SkipDot => {
                    start += 1;
                    len -= 1;
                }
                Step::End(n) => {
                    start += n;
                    len -= n;
                    out.ends += 1;
                    break;
                }
                Step::NeedMore => break,
            }
        }
        if len == 0 {
            start = 0;
        }
    }
    out
}

/// Each read copied into one buffer and scanned for `\r\n.` right away: a receive path
/// with no unstuffing and no session (matches across reads are not counted).
fn copy_and_scan(wire: &[u8]) -> usize {
    let finder = Finder::new(b"\r\n.");
    let mut buf = vec![0u8; READ];
    let mut found = 0;
    for read in wire.chunks(READ) {
        buf[..read.len()].copy_from_slice(black_box(read));
        found += finder.find_iter(black_box(&buf[..read.len()])).count();
    }
    found
}

/// The copies alone: the same bytes memcpy'd 64 KiB at a time into one buffer.
fn copy_only(wire: &[u8]) -> usize {
    let mut buf = vec![0u8; READ];
    for read in wire.chunks(READ) {
        buf[..read.len()].copy_from_slice(black_box(read));
        black_box(&mut buf);
    }
    buf.len()
}

/// Runs `f` once, keeping the shortest wall-clock time seen in `best`.
fn timed<T>(best: &mut Duration, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let result = black_box(f());
    *best = (*best).min(start.elapsed());
    result
}

fn gbps(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e9
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too: keep that quick.
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("body_decode: run with `cargo bench -p pop3-proto --bench body_decode`");
        return;
    }
    let start = Instant::now();
    let reply = reply();
    let wire = &reply.wire[..];
    let n = wire.len();
    println!(
        "body_decode: {:.1} MiB on the wire, {} lines ({} dot-stuffed, {:.2}%), built in {:.2?}",
        n as f64 / (1 << 20) as f64,
        n / LINE,
        reply.stuffed_lines,
        reply.stuffed_lines as f64 * 100.0 / (n / LINE) as f64,
        start.elapsed()
    );
    let expected = Decoded {
        bytes: reply.body_len,
        chunks: 0,
        ends: 1,
    };

    // `-- --only a|b|c|c-poll-body|c-drain-body|d` repeats one measurement 50 times, for a profiler.
    if let Some(i) = args.iter().position(|a| a == "--only") {
        let which = args.get(i + 1).map_or("b", String::as_str);
        let start = Instant::now();
        for _ in 0..50 {
            match which {
                "a" => {
                    black_box(memmem_scan(wire));
                }
                "b" => {
                    black_box(decode_handle_input(wire));
                }
                "c" => {
                    black_box(decode_read_space(wire));
                }
                "c-poll-body" => {
                    black_box(decode_read_space_poll_body(wire));
                }
                "c-drain-body" => {
                    black_box(decode_read_space_drain_body(wire));
                }
                _ => {
                    black_box(unstuffer_only(wire));
                }
            }
        }
        println!("50 x ({which}): {:.2} GB/s", gbps(50 * n, start.elapsed()));
        return;
    }

    // Interleaved rounds, best of `RUNS` each: a burst of load elsewhere on the machine
    // then hits one round of every measurement rather than all rounds of one.
    let mut t = [Duration::MAX; 11];
    let (mut found, mut terminators) = (0, 0);
    let mut d = [Decoded::default(); 6];
    for _ in 0..RUNS {
        found = timed(&mut t[0], || memmem_scan(wire));
        d[0] = timed(&mut t[1], || decode_handle_input(wire));
        d[1] = timed(&mut t[2], || decode_read_space(wire));
        d[2] = timed(&mut t[3], || unstuffer_only(wire));
        timed(&mut t[4], || copy_only(wire));
        terminators = timed(&mut t[5], || memmem_terminator_scan(wire));
        timed(&mut t[6], || memmem_in_cache(wire));
        d[3] = timed(&mut t[7], || decode_read_space_poll_body(wire));
        d[4] = timed(&mut t[8], || decode_read_space_drain_body(wire));
        d[5] = timed(&mut t[9], || copy_and_unstuff(wire));
        timed(&mut t[10], || copy_and_scan(wire));
    }
    assert_eq!(found as u64, reply.stuffed_lines + 1);
    assert_eq!(terminators, 1);
    for d in d {
        assert_eq!((d.bytes, d.ends), (expected.bytes, expected.ends), "{d:?}");
    }
    let [t_scan, t_input, t_space, t_unstuff, t_copy, t_term, t_cached, t_body, t_drain, t_bare, t_copy_scan] =
        t;
    let [d_input, d_space, d_unstuff, d_body, d_drain, d_bare] = d;

    let a = gbps(n, t_scan);
    let b = gbps(n, t_input);
    let c = gbps(n, t_space);
    println!("best of {RUNS} runs over the same {n} bytes (GB/s = 1e9 bytes/s):");
    println!("  (a) memmem \\r\\n. scan        {a:6.2} GB/s  {t_scan:>10.2?}  ({found} matches)");
    println!(
        "  (b) Client, handle_input     {b:6.2} GB/s  {t_input:>10.2?}  ({} chunks)",
        d_input.chunks
    );
    println!(
        "  (c) Client, read_space+copy  {c:6.2} GB/s  {t_space:>10.2?}  ({} chunks)",
        d_space.chunks
    );
    println!(
        "  (c) with poll_body           {:6.2} GB/s  {t_body:>10.2?}  ({} chunks)",
        gbps(n, t_body),
        d_body.chunks
    );
    println!(
        "  (c) with drain_body          {:6.2} GB/s  {t_drain:>10.2?}  ({} runs)",
        gbps(n, t_drain),
        d_drain.chunks
    );
    println!(
        "  (d) Unstuffer::step only     {:6.2} GB/s  {t_unstuff:>10.2?}  ({} runs)",
        gbps(n, t_unstuff),
        d_unstuff.chunks
    );
    println!(
        "  (d) copy + Unstuffer, no session {:6.2} GB/s  {t_bare:>10.2?}  ({} runs)",
        gbps(n, t_bare),
        d_bare.chunks
    );
    println!(
        "  (d) copy + memmem, no decoding {:6.2} GB/s  {t_copy_scan:>10.2?}",
        gbps(n, t_copy_scan)
    );
    println!(
        "  (d) 64 KiB memcpy only       {:6.2} GB/s  {t_copy:>10.2?}",
        gbps(n, t_copy)
    );
    println!(
        "  (d) memmem \\r\\n.\\r\\n scan    {:6.2} GB/s  {t_term:>10.2?}  ({terminators} match)",
        gbps(n, t_term)
    );
    println!(
        "  (d) memmem \\r\\n. in cache     {:6.2} GB/s  {t_cached:>10.2?}  (one 64 KiB block)",
        gbps(n / READ * READ, t_cached)
    );
    // The receive path's floor: one copy of each read plus a scan of it while it is in cache.
    let floor = t_copy + t_cached;
    // Where memmem out of cache outruns memcpy, even the floor is far from (a): print that
    // bound next to the ratios measured against (a).
    println!(
        "  (b)/(a) = {:.3}   (c)/(a) = {:.3}   target >= 0.5; the floor (memcpy + memmem in cache) / (a) = {:.3}",
        b / a,
        c / a,
        t_scan.as_secs_f64() / floor.as_secs_f64()
    );
    let ratio = |t: Duration| floor.as_secs_f64() / t.as_secs_f64();
    println!(
        "  (c) vs (memcpy + memmem in cache) = {:.3}, with poll_body {:.3}, with drain_body {:.3}   target >= 0.90",
        ratio(t_space),
        ratio(t_body),
        ratio(t_drain)
    );
    println!(
        "  (d) vs the same floor: copy + Unstuffer, no session = {:.3}; copy + memmem, no decoding = {:.3}",
        ratio(t_bare),
        ratio(t_copy_scan)
    );
    println!(
        "  (c) with drain_body vs (d) copy + memmem, no decoding = {:.3}",
        t_copy_scan.as_secs_f64() / t_drain.as_secs_f64()
    );
}
