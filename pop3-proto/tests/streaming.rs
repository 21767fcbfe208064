//! Streams very large RETR bodies through a [`Client`] and checks what comes out.
//!
//! The body is generated on the fly and never held in memory (`support::body`): one template
//! block of 76-byte CRLF lines (about 3% of them starting with a stuffed dot) is repeated,
//! then the `.` CRLF terminator follows. Every body chunk is checked against the expected
//! unstuffed bytes, folded into a running checksum and dropped at once, as a real consumer
//! would do.
//!
//! What is checked: the unstuffed byte count, the checksum, exactly one `MultiEnd` at the very
//! end, and that the receive buffer never grows past one read plus one line
//! (`read size + Config::max_line_length`) whatever the body size.

mod support;

use pop3_proto::{Client, Command, Config, Event, Handle, Pipelining, SessionState};
use support::body::{Source, Template, RETR_OK};
use support::session::{feed_zero_copy, log_in_and_retr};

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
const GIB: usize = 1024 * MIB;

/// A running checksum that does not depend on how the stream is cut: four lanes of
/// `h = h * K + word` (mod 2^64) over 32-byte blocks, the tail carried between updates.
/// Word-at-a-time so that hashing a gigabyte stays cheap in the unoptimised test profile.
struct Checksum {
    lanes: [u64; 4],
    carry: [u8; 32],
    carried: usize,
    len: u64,
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Checksum {
    fn new() -> Self {
        Self {
            lanes: [1, 2, 3, 4],
            carry: [0; 32],
            carried: 0,
            len: 0,
        }
    }

    fn block(&mut self, b: &[u8]) {
        let w = |i: usize| {
            u64::from_le_bytes([
                b[i],
                b[i + 1],
                b[i + 2],
                b[i + 3],
                b[i + 4],
                b[i + 5],
                b[i + 6],
                b[i + 7],
            ])
        };
        self.lanes[0] = self.lanes[0].wrapping_mul(K).wrapping_add(w(0));
        self.lanes[1] = self.lanes[1].wrapping_mul(K).wrapping_add(w(8));
        self.lanes[2] = self.lanes[2].wrapping_mul(K).wrapping_add(w(16));
        self.lanes[3] = self.lanes[3].wrapping_mul(K).wrapping_add(w(24));
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.carried > 0 {
            let take = (32 - self.carried).min(data.len());
            self.carry[self.carried..self.carried + take].copy_from_slice(&data[..take]);
            self.carried += take;
            data = &data[take..];
            if self.carried < 32 {
                return;
            }
            let block = self.carry;
            self.block(&block);
            self.carried = 0;
        }
        let mut blocks = data.chunks_exact(32);
        for b in &mut blocks {
            self.block(b);
        }
        let rest = blocks.remainder();
        self.carry[..rest.len()].copy_from_slice(rest);
        self.carried = rest.len();
    }

    /// The checksum of `reps` repetitions of `block` (a multiple of 32 bytes), computed from
    /// one pass over it: each repetition maps every lane `h` to `h * K^blocks + c`.
    fn of_repeated(block: &[u8], reps: usize) -> Self {
        assert_eq!(block.len() % 32, 0);
        let mut once = Self::new();
        once.lanes = [0; 4];
        once.update(block);
        let c = once.lanes;
        let mut factor = 1u64;
        for _ in 0..block.len() / 32 {
            factor = factor.wrapping_mul(K);
        }
        let mut sum = Self::new();
        for _ in 0..reps {
            for (h, c) in sum.lanes.iter_mut().zip(c) {
                *h = h.wrapping_mul(factor).wrapping_add(c);
            }
        }
        sum.len = (block.len() * reps) as u64;
        sum
    }
}

/// Checks each chunk byte for byte against the repeated template, to say where a mismatch is
/// (`[u8] == [u8]` is a `memcmp`, fast even unoptimised).
struct Expected<'a> {
    body: &'a [u8],
    offset: usize,
    position: u64,
}

impl<'a> Expected<'a> {
    fn new(body: &'a [u8]) -> Self {
        Self {
            body,
            offset: 0,
            position: 0,
        }
    }

    fn check(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            let take = (self.body.len() - self.offset).min(chunk.len());
            if chunk[..take] != self.body[self.offset..self.offset + take] {
                let at = chunk[..take]
                    .iter()
                    .zip(&self.body[self.offset..])
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "body differs at unstuffed offset {}: got {:?}, expected {:?}",
                    self.position + at as u64,
                    String::from_utf8_lossy(&chunk[at..take.min(at + 40)]),
                    String::from_utf8_lossy(
                        &self.body[self.offset + at..(self.offset + at + 40).min(self.body.len())]
                    ),
                );
            }
            chunk = &chunk[take..];
            self.position += take as u64;
            self.offset = (self.offset + take) % self.body.len();
        }
    }
}

/// What the body events added up to.
#[derive(Default)]
struct Tally {
    starts: usize,
    chunks: u64,
    ends: usize,
}

impl Tally {
    /// Takes every event ready now; body chunks are checked and dropped on the spot.
    fn drain(
        &mut self,
        client: &mut Client,
        retr: Handle,
        sum: &mut Checksum,
        expected: &mut Expected<'_>,
    ) {
        while let Some(event) = client.poll_event().expect("the stream is valid") {
            assert_eq!(self.ends, 0, "an event after MultiEnd: {event:?}");
            match event {
                Event::MultiStart { handle, status } => {
                    assert_eq!(handle, retr);
                    assert!(status.is_ok());
                    assert_eq!(self.chunks, 0, "MultiStart after body data");
                    self.starts += 1;
                }
                Event::BodyChunk { handle, data } => {
                    assert_eq!(handle, retr);
                    assert_eq!(self.starts, 1, "body data outside MultiStart..MultiEnd");
                    assert!(!data.is_empty(), "empty BodyChunk");
                    expected.check(&data);
                    sum.update(&data);
                    self.chunks += 1;
                    // `data` is dropped here: its part of the receive buffer can be reused.
                }
                Event::MultiEnd { handle } => {
                    assert_eq!(handle, retr);
                    self.ends += 1;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}

/// Runs the login, then sends `RETR 1`. `feed` hands the server's bytes to the client.
fn log_in(client: &mut Client, feed: &mut dyn FnMut(&mut Client, &[u8])) -> Handle {
    let mut wire = Vec::new();
    let retr = log_in_and_retr(client, &mut wire, feed, b"+OK maildrop has 1 message\r\n");
    assert!(wire.ends_with(b"RETR 1\r\n"));
    assert!(matches!(client.poll_event(), Ok(None)));
    retr
}

fn check_end(client: &mut Client, tally: &Tally, sum: &Checksum, expected: &Checksum) {
    assert_eq!(tally.starts, 1);
    assert_eq!(tally.ends, 1, "MultiEnd must arrive exactly once");
    assert_eq!(sum.len, expected.len, "unstuffed byte count");
    assert_eq!(sum.carried, 0);
    assert_eq!(sum.lanes, expected.lanes, "checksum of the unstuffed body");
    assert!(matches!(client.poll_event(), Ok(None)));
    assert_eq!(client.in_flight(), 0);
    assert_eq!(client.state(), SessionState::Transaction);
}

/// 1 GiB through the zero-copy path, in 64 KiB reads.
#[test]
fn one_gib_retr_through_read_space() {
    const READ: usize = 64 * KIB;
    let mut config = Config::default();
    config.read_size = READ;
    assert_eq!(config.max_line_length, 512);
    let bound = READ + config.max_line_length;
    let t = Template::with_traps();
    let reps = GIB.div_ceil(t.wire.len());
    let want = Checksum::of_repeated(&t.body, reps);

    let mut client = Client::new(config);
    let retr = log_in(&mut client, &mut feed_zero_copy);
    let mut source = Source::new(&t.wire, reps);
    let mut sum = Checksum::new();
    let mut expected = Expected::new(&t.body);
    let mut tally = Tally::default();
    let (mut reads, mut reads_ending_in_cr, mut max_capacity) = (0u64, 0u64, 0);
    loop {
        let space = client.read_space();
        assert!(space.len() >= READ);
        let n = source.fill(&mut space[..READ]);
        if n == 0 {
            break;
        }
        reads_ending_in_cr += u64::from(space[n - 1] == b'\r');
        client.commit_read(n).unwrap();
        reads += 1;
        let capacity = client.receive_buffer_capacity();
        max_capacity = max_capacity.max(capacity);
        assert!(
            capacity <= bound,
            "read {reads}: receive buffer capacity {capacity} > {bound} \
             (read size + max_line_length); {reads_ending_in_cr} reads so far ended in CR"
        );
        tally.drain(&mut client, retr, &mut sum, &mut expected);
    }
    eprintln!(
        "{reads} reads ({reads_ending_in_cr} ending in CR), {} chunks, {} unstuffed bytes, \
         max receive buffer capacity {max_capacity}",
        tally.chunks, sum.len
    );
    assert!(reads_ending_in_cr > 0, "no read ended between CR and LF");
    assert!(sum.len >= GIB as u64 - (GIB as u64 / 30));
    check_end(&mut client, &tally, &sum, &want);
}

/// About 64 MiB through the copying path, in odd read sizes.
#[test]
fn sixty_four_mib_retr_through_handle_input() {
    const READS: [usize; 5] = [65_537, 1_000, 1, 4_093, 3];
    let config = Config::default();
    let bound = 65_537 + config.max_line_length;
    let t = Template::with_traps();
    let reps = (64 * MIB).div_ceil(t.wire.len());
    let want = Checksum::of_repeated(&t.body, reps);

    let mut client = Client::new(config);
    let retr = log_in(&mut client, &mut |c, bytes| c.handle_input(bytes));
    let mut source = Source::new(&t.wire, reps);
    let mut buf = vec![0u8; 65_537];
    let mut sum = Checksum::new();
    let mut expected = Expected::new(&t.body);
    let mut tally = Tally::default();
    let mut max_capacity = 0;
    for (reads, size) in READS.iter().cycle().enumerate() {
        let n = source.fill(&mut buf[..*size]);
        if n == 0 {
            break;
        }
        client.handle_input(&buf[..n]);
        let capacity = client.receive_buffer_capacity();
        max_capacity = max_capacity.max(capacity);
        assert!(
            capacity <= bound,
            "read {reads} ({n} bytes): receive buffer capacity {capacity} > {bound}"
        );
        tally.drain(&mut client, retr, &mut sum, &mut expected);
    }
    eprintln!(
        "{} chunks, {} unstuffed bytes, max receive buffer capacity {max_capacity}",
        tally.chunks, sum.len
    );
    check_end(&mut client, &tally, &sum, &want);
}

/// The test's own tools: the checksum is independent of how the stream is cut, its shortcut
/// for repetitions agrees with hashing them, and it notices a changed or missing byte.
#[test]
fn checksum_is_chunking_invariant_and_sensitive() {
    let t = Template::with_traps();
    let reps = 3;
    let want = Checksum::of_repeated(&t.body, reps);
    let stream: Vec<u8> = t.body.repeat(reps);
    for cut in [1, 7, 31, 32, 33, 1000, 65_537] {
        let mut sum = Checksum::new();
        for piece in stream.chunks(cut) {
            sum.update(piece);
        }
        assert_eq!(
            (sum.lanes, sum.len),
            (want.lanes, want.len),
            "pieces of {cut}"
        );
    }
    let mut changed = stream.clone();
    changed[100_000] ^= 1;
    let mut sum = Checksum::new();
    sum.update(&changed);
    assert_ne!(sum.lanes, want.lanes);
    let mut sum = Checksum::new();
    sum.update(&stream[1..]);
    sum.update(b"x");
    assert_ne!(sum.lanes, want.lanes);

    // The source really is the dot-stuffed template between the status line and terminator.
    let mut source = Source::new(&t.wire, 2);
    let mut all = vec![0; RETR_OK.len() + 2 * t.wire.len() + 3 + 10];
    let n = source.fill(&mut all);
    assert_eq!(n, all.len() - 10);
    assert!(all[..n].starts_with(RETR_OK) && all[..n].ends_with(b"\r\n.\r\n"));
    assert_eq!(source.fill(&mut all), 0);
}

std::thread_local! {
    /// Body bytes the observer of this test thread saw.
    static OBSERVED: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

fn count_observed(event: &Event) {
    if let Event::BodyChunk { data, .. } = event {
        OBSERVED.with(|seen| seen.set(seen.get() + data.len() as u64));
    }
}

/// `poll_body` and `drain_body` hand out exactly the body `poll_event` would, whatever the
/// mix of the three and however the input is cut (the template's traps: stuffed dots, lone
/// CRs, dot lines at read ends), leave the end of the body and everything else to
/// `poll_event`, and show every byte to an observer when one is set.
#[test]
fn poll_body_and_drain_body_give_what_poll_event_would() {
    let t = Template::with_traps();
    let reps = 40;
    let mut wire = RETR_OK.to_vec();
    for _ in 0..reps {
        wire.extend_from_slice(&t.wire[..]);
    }
    wire.extend_from_slice(b".\r\n");
    let mut want = Vec::new();
    for _ in 0..reps {
        want.extend_from_slice(&t.body);
    }
    let cuts = [(1, 1), (7, 2), (4_093, 3), (65_536, 1_000_000), (3, 5)];
    for observed in [false, true] {
        for (read, every) in cuts {
            let mut client = Client::new(Config::default());
            if observed {
                client.set_observer(Some(count_observed));
            }
            OBSERVED.with(|seen| seen.set(0));
            let retr = log_in(&mut client, &mut |c, bytes| c.handle_input(bytes));
            let (mut body, mut ends, mut polls) = (Vec::new(), 0, 0u64);
            for piece in wire.chunks(read) {
                client.handle_input(piece);
                loop {
                    // Rounds take chunks through poll_body, drain_body, and (every
                    // `every`-th) poll_event alone.
                    polls += 1;
                    if polls % every != 0 {
                        if polls % 2 == 0 {
                            while let Some((handle, data)) = client.poll_body() {
                                assert_eq!(handle, retr);
                                body.extend_from_slice(&data);
                            }
                        } else {
                            let before = body.len() as u64;
                            let drained = client
                                .drain_body(|handle, run| {
                                    assert_eq!(handle, retr);
                                    assert!(!run.is_empty());
                                    body.extend_from_slice(run);
                                    Ok::<_, ()>(())
                                })
                                .unwrap();
                            assert_eq!(drained, body.len() as u64 - before);
                        }
                    }
                    match client.poll_event().unwrap() {
                        Some(Event::BodyChunk { handle, data }) => {
                            assert_eq!(handle, retr);
                            body.extend_from_slice(&data);
                        }
                        Some(Event::MultiEnd { handle }) => {
                            assert_eq!(handle, retr);
                            ends += 1;
                        }
                        Some(Event::MultiStart { .. }) => {}
                        Some(other) => panic!("unexpected {other:?}"),
                        None => break,
                    }
                }
            }
            assert_eq!(ends, 1, "reads of {read}");
            assert!(body == want, "reads of {read}: the body differs");
            assert!(client.poll_body().is_none());
            assert_eq!(client.drain_body(|_, _| Err(())), Ok(0));
            let seen = OBSERVED.with(|seen| seen.get());
            assert_eq!(seen, if observed { want.len() as u64 } else { 0 });
        }
    }
}

/// Logs in, sends RETR 1 and buffers its whole reply (`t` once, then the terminator), the
/// status line already taken: the rest of the buffer is body.
fn retr_template_buffered(client: &mut Client, t: &Template) -> Handle {
    let retr = log_in(client, &mut |c, bytes| c.handle_input(bytes));
    client.handle_input(RETR_OK);
    client.handle_input(&t.wire);
    client.handle_input(b".\r\n");
    assert!(matches!(
        client.poll_event(),
        Ok(Some(Event::MultiStart { .. }))
    ));
    retr
}

/// A sink's error stops `drain_body` and comes back; the run it refused is consumed and the
/// rest of the body still comes out whole — with an observer set too, which sees every byte
/// once.
#[test]
fn drain_body_stops_at_the_sinks_error() {
    for observed in [false, true] {
        drain_body_stops_at_the_sinks_error_with(observed);
    }
}

fn drain_body_stops_at_the_sinks_error_with(observed: bool) {
    let t = Template::with_traps();
    let mut client = Client::new(Config::default());
    if observed {
        client.set_observer(Some(count_observed));
    }
    OBSERVED.with(|seen| seen.set(0));
    let retr = retr_template_buffered(&mut client, &t);
    let mut body = Vec::new();
    let refused = client.drain_body(|_, run| {
        body.extend_from_slice(run);
        Err(run.len())
    });
    let Err(first) = refused else {
        panic!("the sink's error must come back, got {refused:?}")
    };
    assert_eq!(first, body.len());
    assert!(first < t.body.len(), "the template has more than one run");
    let rest = client.drain_body(|handle, run| {
        assert_eq!(handle, retr);
        body.extend_from_slice(run);
        Ok::<_, ()>(())
    });
    assert_eq!(rest, Ok((t.body.len() - first) as u64));
    assert!(body == t.body);
    assert!(matches!(
        client.poll_event(),
        Ok(Some(Event::MultiEnd { .. }))
    ));
    let seen = OBSERVED.with(|seen| seen.get());
    assert_eq!(seen, if observed { t.body.len() as u64 } else { 0 });
}

/// A sink that panics: the run it was given counts as taken, and a host that catches the
/// panic and keeps the session gets the rest of the body whole (the unstuffer and the
/// buffer stay in step).
#[test]
fn a_panicking_sink_leaves_the_session_in_step() {
    let t = Template::with_traps();
    let mut client = Client::new(Config::default());
    retr_template_buffered(&mut client, &t);
    let mut body = Vec::new();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        client.drain_body(|_, run| -> Result<(), ()> {
            body.extend_from_slice(run);
            panic!("the sink gives up after {} bytes", run.len())
        })
    }));
    assert!(caught.is_err());
    assert!(!body.is_empty() && body.len() < t.body.len());
    client
        .drain_body(|_, run| {
            body.extend_from_slice(run);
            Ok::<_, ()>(())
        })
        .unwrap();
    assert!(body == t.body);
    assert!(matches!(
        client.poll_event(),
        Ok(Some(Event::MultiEnd { .. }))
    ));
}

/// Two pipelined bodies in one read: `drain_body` stops at the first terminator, and every
/// run carries the handle of its own reply.
#[test]
fn drain_body_keeps_pipelined_bodies_apart() {
    let mut config = Config::default();
    config.pipelining = Pipelining::On;
    let mut client = Client::new(config);
    let first = log_in(&mut client, &mut |c, bytes| c.handle_input(bytes));
    let second = client.send(Command::Retr(2.try_into().unwrap())).unwrap();
    client.poll_transmit(&mut Vec::new());
    client.handle_input(b"+OK\r\none\r\n..1\r\n.\r\n+OK\r\ntwo\r\n.\r\n");
    let mut bodies: Vec<(Handle, Vec<u8>)> = Vec::new();
    loop {
        let drained = client.drain_body(|handle, run| {
            match bodies.last_mut() {
                Some((last, body)) if *last == handle => body.extend_from_slice(run),
                _ => bodies.push((handle, run.to_vec())),
            }
            Ok::<_, ()>(())
        });
        assert!(drained.is_ok());
        match client.poll_event().unwrap() {
            Some(Event::MultiEnd { handle }) if handle == second => break,
            Some(Event::MultiStart { .. } | Event::MultiEnd { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    let want = [
        (first, b"one\r\n.1\r\n".to_vec()),
        (second, b"two\r\n".to_vec()),
    ];
    assert_eq!(bodies, want);
}

/// A body cut short by the end of the stream: what arrived is handed out, then the session
/// fails (`Truncated`), and neither fast path hands out anything after that.
#[test]
fn the_fast_paths_stop_when_the_session_fails() {
    let mut client = Client::new(Config::default());
    let retr = log_in(&mut client, &mut |c, bytes| c.handle_input(bytes));
    client.handle_input(b"+OK\r\npart of a bo");
    client.handle_eof();
    assert!(matches!(
        client.poll_event(),
        Ok(Some(Event::MultiStart { .. }))
    ));
    let mut body = Vec::new();
    let drained = client.drain_body(|handle, run| {
        assert_eq!(handle, retr);
        body.extend_from_slice(run);
        Ok::<_, ()>(())
    });
    assert_eq!(drained, Ok(12));
    assert_eq!(body, b"part of a bo");
    assert!(client.poll_event().is_err(), "a truncated body is an error");
    client.handle_input(b"dy\r\n.\r\n");
    assert_eq!(client.drain_body(|_, _| Err(())), Ok(0));
    assert!(client.poll_body().is_none());
}
