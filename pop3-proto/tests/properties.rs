//! Property tests: the dot-(un)stuffer under any chunking, and random command sequences
//! against a small model server.

mod support;

use pop3_proto::codec::dot::DotStuffer;
use pop3_proto::{
    Client, Command, Config, Error, Event, Handle, Password, Pipelining, RemoteError, UserName,
};
use proptest::prelude::*;
use std::collections::VecDeque;
use support::unstuff;

/// Bytes drawn mostly from the characters that matter to framing.
fn wire_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            4 => Just(b'.'),
            4 => Just(b'\r'),
            4 => Just(b'\n'),
            3 => Just(b'a'),
            1 => any::<u8>(),
        ],
        0..max,
    )
}

/// Cuts `data` into pieces at the given (sorted, deduplicated) offsets.
fn pieces<'a>(data: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for c in cuts {
        out.push(&data[start..c]);
        start = c;
    }
    out.push(&data[start..]);
    out
}

/// `body` as a stuff/unstuff round trip gives it back: with CRLF added if it has bytes and
/// does not end in one.
fn line_ended(body: &[u8]) -> Vec<u8> {
    let mut ended = body.to_vec();
    if !ended.is_empty() && !ended.ends_with(b"\r\n") {
        ended.extend_from_slice(b"\r\n");
    }
    ended
}

/// The obvious whole-buffer reading of RFC 1939 §3, line by line.
fn unstuff_naive(wire: &[u8]) -> (Vec<u8>, Option<usize>) {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let rest = &wire[i..];
        if rest.starts_with(b".\r\n") {
            return (out, Some(i + 3));
        }
        if rest == b"." || rest == b".\r" {
            return (out, None); // cannot tell yet
        }
        if rest.starts_with(b".") {
            i += 1;
        }
        let rest = &wire[i..];
        match rest.windows(2).position(|w| w == b"\r\n") {
            Some(j) => {
                out.extend_from_slice(&rest[..j + 2]);
                i += j + 2;
            }
            None => {
                let keep = usize::from(rest.ends_with(b"\r"));
                out.extend_from_slice(&rest[..rest.len() - keep]);
                return (out, None);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn unstuffer_matches_naive_reference(wire in wire_bytes(300), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let streamed = unstuff::run(&pieces(&wire, &cuts), false);
        prop_assert_eq!(streamed, unstuff_naive(&wire));
    }

    #[test]
    fn stuff_then_unstuff_is_identity(body in wire_bytes(300), cuts in prop::collection::vec(any::<usize>(), 0..8), cuts2 in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = Vec::new();
        let mut stuffer = DotStuffer::new();
        for piece in pieces(&body, &cuts) {
            stuffer.push(piece, &mut wire);
        }
        stuffer.finish(&mut wire);
        let (unstuffed, end) = unstuff::run(&pieces(&wire, &cuts2), false);
        let expected = line_ended(&body);
        prop_assert_eq!(unstuffed, expected);
        prop_assert_eq!(end, Some(wire.len()));
    }

    #[test]
    fn session_body_is_chunking_invariant(body in wire_bytes(200), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let mut wire = b"+OK\r\n".to_vec();
        let mut stuffer = DotStuffer::new();
        stuffer.push(&body, &mut wire);
        stuffer.finish(&mut wire);
        wire.extend_from_slice(b"+OK 1 5\r\n"); // the next reply, right behind the terminator
        let mut client = logged_in(Pipelining::On);
        let retr = client.send(Command::Retr(1.try_into().unwrap())).unwrap();
        let stat = client.send(Command::Stat).unwrap();
        client.poll_transmit(&mut Vec::new());
        let mut got = Vec::new();
        let mut finals = Vec::new();
        for piece in pieces(&wire, &cuts) {
            client.handle_input(piece);
            while let Some(event) = client.poll_event().unwrap() {
                match event {
                    Event::BodyChunk { handle, data } => {
                        prop_assert_eq!(handle, retr);
                        got.extend_from_slice(&data);
                    }
                    e if e.is_final() => finals.push(e.handle().unwrap()),
                    _ => {}
                }
            }
        }
        let expected = line_ended(&body);
        prop_assert_eq!(got, expected);
        prop_assert_eq!(finals, vec![retr, stat]);
    }
}

/// A client that has been greeted and logged in.
fn logged_in(pipelining: Pipelining) -> Client {
    let mut config = Config::default();
    config.pipelining = pipelining;
    logged_in_with(config)
}

fn logged_in_with(config: Config) -> Client {
    let mut client = Client::new(config);
    client.handle_input(b"+OK\r\n");
    client.poll_event().unwrap();
    for command in [
        Command::User(UserName::new("u").unwrap()),
        Command::Pass(Password::new("p").unwrap()),
    ] {
        client.send(command).unwrap();
        client.poll_transmit(&mut Vec::new());
        client.handle_input(b"+OK\r\n");
        assert!(client.poll_event().unwrap().unwrap().is_final());
    }
    client
}

// ----- random command sequences against a model server -----------------------------------

#[derive(Debug, Clone, Copy)]
enum Op {
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    Top(u32),
    Dele(u32),
    Noop,
    Rset,
    Capa,
    Quit,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Stat),
        prop::option::of(1u32..4).prop_map(Op::List),
        prop::option::of(1u32..4).prop_map(Op::Uidl),
        (1u32..4).prop_map(Op::Retr),
        (1u32..4).prop_map(Op::Top),
        (1u32..4).prop_map(Op::Dele),
        Just(Op::Noop),
        Just(Op::Rset),
        Just(Op::Capa),
        Just(Op::Quit),
    ]
}

impl Op {
    fn command(self) -> Command {
        let n = |v: u32| v.try_into().unwrap();
        match self {
            Op::Stat => Command::Stat,
            Op::List(m) => Command::List(m.map(n)),
            Op::Uidl(m) => Command::Uidl(m.map(n)),
            Op::Retr(m) => Command::Retr(n(m)),
            Op::Top(m) => Command::Top {
                msg: n(m),
                lines: 1,
            },
            Op::Dele(m) => Command::Dele(n(m)),
            Op::Noop => Command::Noop,
            Op::Rset => Command::Rset,
            Op::Capa => Command::Capa,
            Op::Quit => Command::Quit,
        }
    }
}

/// A tiny POP3 server for TRANSACTION commands: answers each complete command line in
/// order, `-ERR` where `refuse` has a bit set, and garbage once at `corrupt_at`.
struct ModelServer {
    input: Vec<u8>,
    output: VecDeque<u8>,
    received: Vec<String>,
    answered: usize,
    corrupt_at: Option<usize>,
    refuse: u64,
    /// Set if a barrier arrived while replies to earlier commands were still undelivered.
    barrier_violated: bool,
}

impl ModelServer {
    fn receive(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
        while let Some(end) = self.input.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = self.input.drain(..end + 2).collect();
            let line = String::from_utf8(line[..end].to_vec()).unwrap();
            if line == "QUIT" && !self.output.is_empty() {
                self.barrier_violated = true;
            }
            self.answer(&line);
            self.received.push(line);
        }
    }
    fn answer(&mut self, line: &str) {
        let index = self.answered;
        self.answered += 1;
        let reply: String = if self.corrupt_at == Some(index) {
            "GARBAGE not a status\r\n".into()
        } else if line != "QUIT" && self.refuse >> (index % 64) & 1 == 1 {
            "-ERR refused\r\n".into()
        } else {
            let mut words = line.split(' ');
            let keyword = words.next().unwrap();
            let arg = words.next();
            match (keyword, arg) {
                ("STAT", _) => "+OK 3 300\r\n".into(),
                ("LIST", Some(n)) => format!("+OK {n} 100\r\n"),
                ("LIST", None) => "+OK\r\n1 100\r\n2 100\r\n3 100\r\n.\r\n".into(),
                ("UIDL", Some(n)) => format!("+OK {n} uid-{n}\r\n"),
                ("UIDL", None) => "+OK\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n".into(),
                ("RETR" | "TOP", Some(n)) => {
                    format!("+OK\r\nSubject: {n}\r\n\r\n..dot\r\n.\r\n")
                }
                ("CAPA", _) => "+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\n.\r\n".into(),
                _ => "+OK\r\n".into(),
            }
        };
        self.output.extend(reply.as_bytes());
    }
}

/// What the reply to an op must look like, event by event.
fn check_event(op: Op, event: &Event) -> Result<(), TestCaseError> {
    let ok = match (op, event) {
        (_, Event::Status { status, .. }) if !status.is_ok() => true,
        (Op::Stat, Event::Stat { .. }) => true,
        (Op::List(Some(_)), Event::ListOne { .. }) => true,
        (Op::Uidl(Some(_)), Event::UidlOne { .. }) => true,
        (
            Op::List(None),
            Event::MultiStart { .. } | Event::ListEntry { .. } | Event::MultiEnd { .. },
        ) => true,
        (
            Op::Uidl(None),
            Event::MultiStart { .. } | Event::UidlEntry { .. } | Event::MultiEnd { .. },
        ) => true,
        (Op::Capa, Event::MultiStart { .. } | Event::CapaEntry { .. } | Event::MultiEnd { .. }) => {
            true
        }
        (
            Op::Retr(_) | Op::Top(_),
            Event::MultiStart { .. } | Event::BodyChunk { .. } | Event::MultiEnd { .. },
        ) => true,
        (Op::Dele(_) | Op::Noop | Op::Rset, Event::Status { .. }) => true,
        (Op::Quit, Event::Closed { .. }) => true,
        _ => false,
    };
    prop_assert!(ok, "event {event:?} does not answer {op:?}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// In-order matching, window, barriers, sticky errors, and no QUIT unless asked.
    #[test]
    fn random_sessions_against_a_model_server(
        ops in prop::collection::vec(op(), 1..25),
        pipelining in prop_oneof![Just(Pipelining::Off), Just(Pipelining::Auto), Just(Pipelining::On)],
        window in 1usize..6,
        schedule in prop::collection::vec(0u8..3, 50..400),
        read_sizes in prop::collection::vec(1usize..40, 1..20),
        corrupt in prop::option::of(0usize..30),
        refuse in any::<u64>(),
    ) {
        let mut config = Config::default();
        config.pipelining = pipelining;
        config.max_in_flight = window;
        let mut client = logged_in_with(config);
        let mut server = ModelServer {
            input: Vec::new(),
            output: VecDeque::new(),
            received: Vec::new(),
            answered: 0,
            corrupt_at: corrupt,
            refuse,
            barrier_violated: false,
        };
        let mut next_op = 0;
        let mut outstanding: VecDeque<(Handle, Op)> = VecDeque::new();
        let mut quit_asked = false;
        let mut fatal: Option<Error> = None;
        let mut reads = read_sizes.iter().cycle();
        let mut out = Vec::new();
        // The random schedule, then enough transmit/deliver rounds to finish.
        let tail = [1u8, 2].iter().cycle().take(4000);
        for step in schedule.iter().chain(tail) {
            if fatal.is_some() {
                break;
            }
            match step {
                0 if next_op < ops.len() => {
                    let op = ops[next_op];
                    next_op += 1;
                    match client.send(op.command()) {
                        Ok(handle) => {
                            quit_asked |= matches!(op, Op::Quit);
                            outstanding.push_back((handle, op));
                        }
                        Err(Error::Local(_)) => {} // refused locally: nothing changed
                        Err(e) => fatal = Some(e),
                    }
                }
                0 | 1 => {
                    out.clear();
                    client.poll_transmit(&mut out);
                    server.receive(&out);
                    let limit = if pipelining == Pipelining::Off { 1 } else { window };
                    prop_assert!(client.in_flight() <= limit, "window exceeded");
                }
                _ => {
                    let n = (*reads.next().unwrap()).min(server.output.len());
                    let chunk: Vec<u8> = server.output.drain(..n).collect();
                    client.handle_input(&chunk);
                    loop {
                        match client.poll_event() {
                            Ok(Some(event)) => {
                                let (handle, op) = *outstanding.front().expect("an event with nothing outstanding");
                                prop_assert_eq!(event.handle(), Some(handle), "replies match commands in order");
                                check_event(op, &event)?;
                                if event.is_final() {
                                    outstanding.pop_front();
                                }
                            }
                            Ok(None) => break,
                            Err(e) => {
                                fatal = Some(e);
                                break;
                            }
                        }
                    }
                }
            }
        }
        let quit_sent = server.received.iter().any(|l| l == "QUIT");
        prop_assert!(!quit_sent || quit_asked, "QUIT was sent without being asked for");
        prop_assert!(!server.barrier_violated, "QUIT went out while replies were in flight");
        if let Some(i) = server.received.iter().position(|l| l == "QUIT") {
            prop_assert_eq!(i, server.received.len() - 1, "a command followed QUIT");
        }
        let corrupted = corrupt.is_some_and(|c| c < server.answered);
        match fatal {
            Some(Error::Remote(e)) => {
                prop_assert!(corrupted, "unexpected {e:?}");
                prop_assert!(matches!(e, RemoteError::BadStatusLine { .. }), "{e:?}");
                // Sticky, and nothing more goes out.
                prop_assert_eq!(client.poll_event().unwrap_err(), Error::Remote(e.clone()));
                prop_assert_eq!(client.send(Command::Noop).unwrap_err(), Error::Remote(e.clone()));
                out.clear();
                prop_assert_eq!(client.poll_transmit(&mut out), 0);
            }
            Some(e) => prop_assert!(false, "unexpected error {e:?}"),
            None => {
                prop_assert!(!corrupted, "the corrupted reply went unnoticed");
                prop_assert!(outstanding.is_empty(), "unanswered: {outstanding:?}");
            }
        }
    }
}

/// Pipelined commands go out only while the bytes sent and not yet answered stay within
/// `max_in_flight_bytes`; the window refills once half of it is answered, in one batch; one
/// command always goes.
#[test]
fn commands_in_flight_are_bounded_in_bytes() {
    let mut config = Config::default();
    config.pipelining = Pipelining::On;
    config.max_in_flight_bytes = 30; // "NOOP\r\n" is 6 bytes: five fit, not six
    let mut client = logged_in_with(config);
    for _ in 0..8 {
        client.send(Command::Noop).unwrap();
    }
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    assert_eq!(out, b"NOOP\r\n".repeat(5), "five in flight");
    client.poll_transmit(&mut out);
    assert_eq!(out.len(), 30, "no room until an answer comes");
    client.handle_input(b"+OK\r\n+OK\r\n");
    for _ in 0..2 {
        assert!(client.poll_event().unwrap().unwrap().is_final());
    }
    out.clear();
    assert_eq!(
        client.poll_transmit(&mut out),
        0,
        "18 of 30 bytes unanswered: over half"
    );
    client.handle_input(b"+OK\r\n");
    assert!(client.poll_event().unwrap().unwrap().is_final());
    client.poll_transmit(&mut out);
    assert_eq!(
        out,
        b"NOOP\r\n".repeat(3),
        "12 unanswered: the rest in one batch"
    );

    let mut config = Config::default();
    config.pipelining = Pipelining::On;
    config.max_in_flight_bytes = 1;
    let mut client = logged_in_with(config);
    client.send(Command::Noop).unwrap();
    client.send(Command::Noop).unwrap();
    out.clear();
    client.poll_transmit(&mut out);
    assert_eq!(
        out, b"NOOP\r\n",
        "a bound below one command still lets one go"
    );
}
