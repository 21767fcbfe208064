//! The bodies of the fuzz targets, as plain functions.
//!
//! `cargo fuzz run <target>` calls them through `fuzz_targets/*.rs`; `cargo test` (stable)
//! runs them over every file of the checked-in corpus (`corpus/<target>/`), so the everyday
//! test command exercises them without nightly. Each one panics when an invariant breaks.

use pop3_proto::codec::dot::{DotStuffer, Step, Unstuffer};
use pop3_proto::codec::greeting::sniff_protocol;
use pop3_proto::codec::line::{find_line, LineScan};
use pop3_proto::codec::listing::{parse_scan_listing, parse_stat, parse_uid_listing};
use pop3_proto::codec::status::parse_status;
use pop3_proto::codec::Leniency;
use pop3_proto::sasl::{Mechanism, SaslError, SaslResponse};
use pop3_proto::{
    ApopTimestamp, Capabilities, Capability, Client, Command, Config, Error, Event, Greeting,
    LangTag, MechanismName, Password, Pipelining, RawLine, ResponseCode, ServerText, SessionState,
    Status, UserName,
};

/// Every codec parser on raw bytes: `Ok` or a typed error, never a panic; whatever parses
/// obeys its type's rules; whatever is displayed is escaped.
pub fn parsers(data: &[u8]) {
    for bare_lf in [false, true] {
        for limit in [1, 7, 512, data.len() + 1] {
            let whole = find_line(data, 0, limit, bare_lf);
            if let Ok(LineScan::Complete { content, consumed }) = whole {
                assert!(content < consumed && consumed <= limit && consumed <= data.len());
                assert_eq!(data[consumed - 1], b'\n');
                assert!(!data[..content].contains(&b'\r') && !data[..content].contains(&0));
            }
            // Resuming from a previous scan gives the same answer as one whole scan.
            let mut scanned = 0;
            let mut resumed = None;
            for end in 1..=data.len().min(600) {
                match find_line(&data[..end], scanned, limit, bare_lf) {
                    Ok(LineScan::Incomplete { scanned: s }) => scanned = s,
                    other => {
                        resumed = Some(other);
                        break;
                    }
                }
            }
            if let (Some(resumed), true) = (resumed, data.len() <= 600) {
                assert_eq!(resumed, whole);
            }
        }
    }
    let strict = Leniency::default();
    let mut loose = Leniency::default();
    loose.bare_lf = true;
    loose.lowercase_status = true;
    loose.loose_separators = true;
    for lenient in [strict, loose] {
        if let Ok(line) = parse_status(data, lenient) {
            assert!(data.ends_with(line.text));
            assert_printable(&Status::parse(data, lenient).unwrap().to_string());
        }
        if let Ok(greeting) = Greeting::parse(data, lenient) {
            if let Some(ts) = greeting.apop_timestamp() {
                assert!(ApopTimestamp::parse(ts.as_bytes()).is_some());
                assert!(ts.as_bytes().len() <= pop3_proto::codec::greeting::MAX_TIMESTAMP_LEN);
            }
        }
        let loose = lenient.loose_separators;
        let _ = parse_stat(data, loose);
        if let Ok(l) = parse_scan_listing(data, loose) {
            assert!(l.msg.get() > 0);
        }
        if let Ok(l) = parse_uid_listing(data, loose, 70) {
            assert!((1..=70).contains(&l.uid.len()));
            assert!(l.uid.iter().all(|b| (0x21..0x7f).contains(b)));
        }
    }
    let capability = Capability::parse(data);
    let _ = format!("{capability:?}");
    let mut caps = Capabilities::default();
    caps.add(capability);
    let _ = ApopTimestamp::find(data);
    let _ = sniff_protocol(data);
    let _ = ResponseCode::parse(data);
    assert_printable(&ServerText::from_slice(data).to_string());
}

fn assert_printable(shown: &str) {
    assert!(
        shown.chars().all(|c| c == '…' || (' '..='~').contains(&c)),
        "unescaped output: {shown:?}"
    );
}

/// A tiny deterministic generator for chunk sizes.
struct Rng(u32);

impl Rng {
    fn next(&mut self, below: usize) -> usize {
        // xorshift32; zero would stay zero.
        let mut x = self.0.max(1);
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x as usize % below.max(1)
    }
}

/// Unstuffs with the streaming [`Unstuffer`], as the session does, over pieces.
fn unstuff_streaming(wire: &[u8], bare_lf: bool, rng: &mut Rng) -> (Vec<u8>, Option<usize>) {
    let mut u = Unstuffer::new(bare_lf);
    let mut buf: Vec<u8> = Vec::new();
    let mut body = Vec::new();
    let mut consumed = 0;
    let mut fed = 0;
    while fed < wire.len() {
        let n = 1 + rng.next(64);
        let end = (fed + n).min(wire.len());
        buf.extend_from_slice(&wire[fed..end]);
        fed = end;
        loop {
            match u.step(&buf) {
                Step::Data(n) => {
                    assert!(n > 0 && n <= buf.len());
                    body.extend(buf.drain(..n));
                    consumed += n;
                }
                Step::SkipDot => {
                    assert_eq!(buf[0], b'.');
                    buf.remove(0);
                    consumed += 1;
                }
                Step::End(n) => return (body, Some(consumed + n)),
                Step::NeedMore => {
                    assert!(buf.len() <= 2, "held back {} bytes", buf.len());
                    break;
                }
            }
        }
    }
    (body, None)
}

/// The obvious whole-buffer reading of RFC 1939 §3, line by line.
fn unstuff_naive(wire: &[u8], bare_lf: bool) -> (Vec<u8>, Option<usize>) {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        let rest = &wire[i..];
        if rest.starts_with(b".\r\n") {
            return (out, Some(i + 3));
        }
        if bare_lf && rest.starts_with(b".\n") {
            return (out, Some(i + 2));
        }
        if rest == b"." || rest == b".\r" {
            return (out, None);
        }
        if rest.starts_with(b".") {
            i += 1;
        }
        let rest = &wire[i..];
        let line_end = if bare_lf {
            rest.iter().position(|&b| b == b'\n').map(|j| j + 1)
        } else {
            rest.windows(2).position(|w| w == b"\r\n").map(|j| j + 2)
        };
        match line_end {
            Some(end) => {
                out.extend_from_slice(&rest[..end]);
                i += end;
            }
            None => {
                let keep = usize::from(!bare_lf && rest.ends_with(b"\r"));
                out.extend_from_slice(&rest[..rest.len() - keep]);
                return (out, None);
            }
        }
    }
}

/// The dot-unstuffer: under arbitrary chunking it gives exactly what the naive whole-buffer
/// reference gives; stuffing then unstuffing is the identity.
///
/// Input: one flag byte (bit 0: bare-LF mode), four bytes of chunking seed, then the wire.
pub fn unstuffer(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (seed, wire) = rest.split_at(rest.len().min(4));
    let mut seed_bytes = [0u8; 4];
    seed_bytes[..seed.len()].copy_from_slice(seed);
    let mut rng = Rng(u32::from_le_bytes(seed_bytes));
    let bare_lf = flags & 1 == 1;
    assert_eq!(
        unstuff_streaming(wire, bare_lf, &mut rng),
        unstuff_naive(wire, bare_lf)
    );

    let mut stuffed = Vec::new();
    let mut stuffer = DotStuffer::new();
    let mut fed = 0;
    while fed < wire.len() {
        let end = (fed + 1 + rng.next(32)).min(wire.len());
        stuffer.push(&wire[fed..end], &mut stuffed);
        fed = end;
    }
    stuffer.finish(&mut stuffed);
    let mut expected = wire.to_vec();
    if !expected.is_empty() && !expected.ends_with(b"\r\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert_eq!(
        unstuff_streaming(&stuffed, false, &mut rng),
        (expected, Some(stuffed.len()))
    );
}

// ----- the session --------------------------------------------------------------------------

/// Ops the session target can ask for, one byte each.
fn op(byte: u8) -> Op {
    let n = u32::from(byte / 20) + 1;
    let msg = n.try_into().expect("n >= 1");
    let command = match byte % 20 {
        0 => Command::User(UserName::new("user").unwrap()),
        1 => Command::Pass(Password::new("secret").unwrap()),
        2 => return Op::Apop,
        3 => return Op::Auth,
        4 => Command::Stat,
        5 => Command::List(None),
        6 => Command::List(Some(msg)),
        7 => Command::Uidl(None),
        8 => Command::Uidl(Some(msg)),
        9 => Command::Retr(msg),
        10 => Command::Top { msg, lines: n },
        11 => Command::Dele(msg),
        12 => Command::Noop,
        13 => Command::Rset,
        14 => Command::Quit,
        15 => Command::Capa,
        16 => Command::Stls,
        17 => Command::Utf8,
        18 => Command::Lang(Some(LangTag::new("en").unwrap())),
        _ => Command::Raw {
            line: RawLine::new("XTND XLIST").unwrap(),
            multiline: true,
        },
    };
    Op::Send(command)
}

enum Op {
    Send(Command),
    Apop,
    Auth,
}

/// A SASL mechanism that answers every challenge with a fixed response.
struct Echo;

impl Mechanism for Echo {
    fn name(&self) -> MechanismName {
        MechanismName::new("X-ECHO").unwrap()
    }
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(Some(SaslResponse::new(b"hello".to_vec())))
    }
    fn respond(&mut self, challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        Ok(SaslResponse::new(challenge.iter().rev().copied().collect()))
    }
}

/// What one run of the session saw, for comparisons.
#[derive(Debug, PartialEq)]
struct Seen {
    events: Vec<String>,
    /// The error's variant name (its quoted data depends on how much was buffered).
    error: Option<String>,
}

fn error_kind(e: &Error) -> String {
    let debug = format!("{e:?}");
    let end = debug.find([' ', '{', '(']).unwrap_or(debug.len());
    let inner = debug[end..].trim_start_matches(['(', ' ']);
    let inner_end = inner.find([' ', '{', '(', ')']).unwrap_or(inner.len());
    format!("{}::{}", &debug[..end], &inner[..inner_end])
}

struct Run {
    client: Client,
    events: Vec<String>,
    body: Option<(u64, Vec<u8>)>,
    error: Option<Error>,
    quit_asked: bool,
    max_read: usize,
}

impl Run {
    fn new(config: Config, max_read: usize) -> Self {
        Self {
            client: Client::new(config),
            events: Vec::new(),
            body: None,
            error: None,
            quit_asked: false,
            max_read,
        }
    }

    fn ask(&mut self, op: Op) {
        let result = match op {
            Op::Send(command) => {
                let quit = command == Command::Quit;
                let result = self.client.send(command);
                self.quit_asked |= quit && result.is_ok();
                result
            }
            Op::Apop => self.client.apop(
                UserName::new("user").unwrap(),
                &Password::new("secret").unwrap(),
            ),
            Op::Auth => self.client.authenticate(Box::new(Echo)),
        };
        match result {
            Ok(_) | Err(Error::Local(_)) => {}
            Err(e) => assert_eq!(Some(&e), self.error.as_ref(), "a new error from send"),
        }
    }

    fn transmit(&mut self) {
        let mut out = Vec::new();
        let n = self.client.poll_transmit(&mut out);
        assert_eq!(n, out.len());
        if self.error.is_some() {
            assert!(out.is_empty(), "sent {out:?} after a fatal error");
        }
        for line in out.split_inclusive(|&b| b == b'\n') {
            assert!(line.ends_with(b"\r\n"), "unterminated line {line:?}");
            assert!(!line[..line.len() - 2]
                .iter()
                .any(|&b| b == b'\r' || b == b'\n' || b == 0));
            if line == b"QUIT\r\n" {
                assert!(self.quit_asked, "QUIT sent without being asked for");
            }
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.client.handle_input(bytes);
        self.drain();
        let bound = 2 * (self.max_read + self.client.config().max_sasl_line_length) + 64;
        assert!(
            self.client.receive_buffer_capacity() <= bound,
            "receive buffer grew to {} (bound {bound})",
            self.client.receive_buffer_capacity()
        );
    }

    fn drain(&mut self) {
        loop {
            match self.client.poll_event() {
                Ok(Some(event)) => {
                    assert!(self.error.is_none(), "an event after a fatal error");
                    if let Event::UpgradeToTls { .. } = event {
                        self.client.tls_established().unwrap();
                    }
                    self.record(event);
                }
                Ok(None) => break,
                Err(e) => {
                    if let Some(previous) = &self.error {
                        assert_eq!(previous, &e, "the error changed");
                    }
                    assert!(!e.is_local(), "poll_event returned a local error");
                    self.error = Some(e.clone());
                    // Sticky and silent.
                    assert_eq!(self.client.poll_event().unwrap_err(), e);
                    assert_eq!(self.client.send(Command::Noop).unwrap_err(), e);
                    assert_eq!(self.client.poll_transmit(&mut Vec::new()), 0);
                    break;
                }
            }
        }
    }

    fn record(&mut self, event: Event) {
        if let Event::BodyChunk { handle, data } = &event {
            assert!(!data.is_empty(), "empty body chunk");
            match &mut self.body {
                Some((h, bytes)) if *h == handle.get() => bytes.extend_from_slice(data),
                _ => {
                    self.flush_body();
                    self.body = Some((handle.get(), data.to_vec()));
                }
            }
            return;
        }
        self.flush_body();
        self.events.push(format!("{event:?}"));
    }

    fn flush_body(&mut self) {
        if let Some((h, bytes)) = self.body.take() {
            self.events.push(format!("body #{h} {bytes:?}"));
        }
    }

    fn finish(mut self) -> Seen {
        self.client.handle_eof();
        self.drain();
        self.flush_body();
        Seen {
            events: self.events,
            error: self.error.as_ref().map(error_kind),
        }
    }
}

/// The client session under a scripted sequence of commands and arbitrary server bytes in
/// arbitrary reads: no panic, receive buffer within its bound, errors sticky, nothing sent
/// after a fatal error, no QUIT unless asked — and, for a logged-in pipelined session, the
/// same events whether the bytes arrive whole or chunked.
///
/// Input: a flag byte, an op count, that many op bytes, a chunking seed byte, server bytes.
pub fn session(data: &[u8]) {
    let [flags, count, rest @ ..] = data else {
        return;
    };
    let count = usize::from(count % 16).min(rest.len());
    let (ops, rest) = rest.split_at(count);
    let Some((&seed, server)) = rest.split_first() else {
        return;
    };
    let mut config = Config::default();
    config.pipelining = match flags & 3 {
        0 => Pipelining::Off,
        1 => Pipelining::Auto,
        _ => Pipelining::On,
    };
    config.lenient.bare_lf = flags & 4 != 0;
    config.lenient.lowercase_status = flags & 8 != 0;
    config.lenient.loose_separators = flags & 16 != 0;
    if flags & 64 != 0 {
        config.max_line_length = 64;
        config.max_sasl_line_length = 64;
        config.max_capa_lines = 4;
        config.max_listing_entries = 8;
        config.max_sasl_rounds = 2;
        config.max_uid_length = 8;
    }
    if flags & 128 != 0 {
        procedures(config, ops, server, seed);
        return;
    }
    if flags & 32 != 0 {
        chunking_invariance(config, ops, server, seed);
        return;
    }
    let mut rng = Rng(u32::from(seed).wrapping_mul(2_654_435_761) | 1);
    let max_read = 1 + usize::from(seed % 48);
    let mut run = Run::new(config, max_read);
    let mut ops = ops.iter();
    let mut fed = 0;
    loop {
        if let Some(&b) = ops.next() {
            run.ask(op(b));
        }
        run.transmit();
        if fed == server.len() && ops.len() == 0 {
            break;
        }
        let end = (fed + 1 + rng.next(max_read)).min(server.len());
        run.feed(&server[fed..end]);
        fed = end;
    }
    run.transmit();
    let _ = run.finish();
}

/// The procedures layer under arbitrary server bytes in arbitrary reads: a sequence of
/// procedures chosen by `ops`, some abandoned after a few items. No panic; no QUIT on the
/// wire unless a Quit ran; PASS never after a refused USER; a remote error is sticky.
fn procedures(mut config: Config, ops: &[u8], server: &[u8], seed: u8) {
    use pop3_proto::procedures::{
        Batch, Collect, Credentials, Exchange, Greet, Login, Multi, Procedure, Quit, StartTls, Step,
    };
    config.allow_plaintext_auth = true;
    let mut client = Client::new(config);
    let (mut wire, mut fed, mut quit_ran) = (Vec::new(), 0, false);
    let mut rng = Rng(u32::from(seed).wrapping_mul(2_654_435_761) | 1);
    let max_read = 1 + usize::from(seed % 32);
    let mut fatal: Option<Error> = None;
    // Runs one procedure; `give_up` abandons it after that many items.
    let mut run = |p: &mut dyn Procedure<Item = String, Output = String>,
                   client: &mut Client,
                   wire: &mut Vec<u8>,
                   give_up: usize|
     -> Option<Result<String, Error>> {
        let mut items = 0;
        loop {
            match p.step(client) {
                Err(e) => return Some(Err(e)),
                Ok(Step::Done(out)) => return Some(Ok(out)),
                Ok(Step::Item(_)) => {
                    items += 1;
                    if items == give_up {
                        return None;
                    }
                }
                Ok(Step::StartTls(upgrade)) => {
                    let _ = upgrade.established(client);
                }
                Ok(Step::Io) => {
                    if client.poll_transmit(wire) > 0 {
                        continue;
                    }
                    if fed == server.len() {
                        client.handle_eof();
                        if let Err(e) = p.step(client) {
                            return Some(Err(e));
                        }
                        return None;
                    }
                    let end = (fed + 1 + rng.next(max_read)).min(server.len());
                    client.handle_input(&server[fed..end]);
                    fed = end;
                }
            }
        }
    };
    let user = || UserName::new("alice").unwrap();
    let pass = || Password::new("secret").unwrap();
    for (i, &b) in ops.iter().enumerate() {
        let give_up = if b & 0x80 != 0 {
            1 + usize::from(b & 3)
        } else {
            0
        };
        let sasl = |m: Box<dyn pop3_proto::sasl::Mechanism>| {
            Box::new(Mapped(Login::new(Credentials::Sasl(m))))
                as Box<dyn Procedure<Item = String, Output = String>>
        };
        let mut p: Box<dyn Procedure<Item = String, Output = String>> = match b % 16 {
            12 => sasl(Box::new(
                pop3_proto::sasl::Scram::sha256("u", &pass(), "clientnonce")
                    .unwrap()
                    .max_iterations(64),
            )),
            13 => sasl(Box::new(pop3_proto::sasl::XOAuth2::new("u", "token"))),
            14 => sasl(Box::new(pop3_proto::sasl::CramMd5::new("u", &pass()))),
            15 => Box::new(Mapped(Login::new(Credentials::Auto(
                pop3_proto::procedures::Auto::new(user(), pass(), "clientnonce"),
            )))),
            0 => Box::new(Mapped(Greet::new())),
            1 => Box::new(Mapped(Login::new(Credentials::UserPass {
                user: user(),
                pass: pass(),
            }))),
            2 => Box::new(Mapped(StartTls::required())),
            3 => Box::new(Mapped(StartTls::new())),
            4 => Box::new(Mapped(Exchange::stat())),
            5 => Box::new(Mapped(Exchange::dele(1.try_into().unwrap()))),
            6 => Box::new(Mapped(Multi::uidl())),
            7 => Box::new(Mapped(Multi::retr(1.try_into().unwrap()))),
            8 => Box::new(Mapped(Collect::entries(Multi::list(), 2))),
            9 => Box::new(Mapped(Batch::retr((1..=3).map(|n| n.try_into().unwrap())))),
            10 => Box::new(Mapped(Batch::dele((1..=2).map(|n| n.try_into().unwrap())))),
            _ => {
                quit_ran = true;
                Box::new(Mapped(Quit::new()))
            }
        };
        let before = wire.len();
        let outcome = run(&mut *p, &mut client, &mut wire, give_up);
        if let Some(Err(e)) = &outcome {
            if let Some(first) = &fatal {
                assert_eq!(e, first, "a remote error must be sticky (procedure {i})");
            } else if !e.is_local() {
                fatal = Some(e.clone());
            }
        }
        if let Some(Ok(out)) = &outcome {
            if b % 16 == 1 && out.contains("command: \"USER\"") {
                let sent = String::from_utf8_lossy(&wire[before..]);
                assert!(
                    !sent.contains("PASS"),
                    "PASS after a refused USER: {sent:?}"
                );
            }
        }
    }
    if !quit_ran {
        let sent = String::from_utf8_lossy(&wire);
        assert!(!sent.contains("QUIT"), "QUIT nobody asked for: {sent:?}");
    }
}

/// A procedure with its items and output rendered, so that different ones fit one box.
struct Mapped<P>(P);

impl<P> pop3_proto::procedures::Procedure for Mapped<P>
where
    P: pop3_proto::procedures::Procedure,
    P::Item: core::fmt::Debug,
    P::Output: core::fmt::Debug,
{
    type Item = String;
    type Output = String;
    fn step(
        &mut self,
        client: &mut Client,
    ) -> Result<pop3_proto::procedures::Step<String, String>, Error> {
        use pop3_proto::procedures::Step;
        Ok(match self.0.step(client)? {
            Step::Item(i) => Step::Item(format!("{i:?}")),
            Step::Io => Step::Io,
            Step::StartTls(t) => Step::StartTls(t),
            Step::Done(o) => Step::Done(format!("{o:?}")),
        })
    }
}

/// Logged in, pipelining with a window larger than the script, only commands that are not
/// barriers, all sent before any reply: whole and chunked input must give the same events.
fn chunking_invariance(mut config: Config, ops: &[u8], server: &[u8], seed: u8) {
    config.pipelining = Pipelining::On;
    config.max_in_flight = 64;
    let start = |max_read| {
        let mut run = Run::new(config.clone(), max_read);
        run.feed(b"+OK\r\n");
        for command in [
            Command::User(UserName::new("u").unwrap()),
            Command::Pass(Password::new("p").unwrap()),
        ] {
            run.ask(Op::Send(command));
            run.transmit();
            run.feed(b"+OK\r\n");
        }
        assert_eq!(run.client.state(), SessionState::Transaction);
        for &b in ops {
            if let Op::Send(command) = op(b) {
                if !matches!(
                    command,
                    Command::Quit | Command::Stls | Command::Pass(_) | Command::User(_)
                ) {
                    run.ask(Op::Send(command));
                }
            }
        }
        run.transmit();
        run
    };
    let mut whole = start(server.len().max(1));
    whole.feed(server);
    let whole = whole.finish();

    let max_read = 1 + usize::from(seed % 32);
    let mut chunked = start(max_read);
    let mut rng = Rng(u32::from(seed) + 7);
    let mut fed = 0;
    while fed < server.len() {
        let end = (fed + 1 + rng.next(max_read)).min(server.len());
        chunked.feed(&server[fed..end]);
        fed = end;
    }
    assert_eq!(chunked.finish(), whole);
}

// ----- command encoding ---------------------------------------------------------------------

/// Command encoding: arbitrary argument bytes either fail validation (a local error, nothing
/// sent) or go out as one line of at most 255 octets whose only CR LF is its end.
///
/// Input: a selector byte, then the argument bytes.
pub fn commands(data: &[u8]) {
    let Some((&selector, arg)) = data.split_first() else {
        return;
    };
    let mut client = Client::new(Config::default());
    client.handle_input(b"+OK ready <1.2@host>\r\n");
    client.poll_event().unwrap();
    if selector & 0x80 != 0 {
        // Log in so that TRANSACTION commands are valid too.
        for command in [
            Command::User(UserName::new("u").unwrap()),
            Command::Pass(Password::new("p").unwrap()),
        ] {
            client.send(command).unwrap();
            client.poll_transmit(&mut Vec::new());
            client.handle_input(b"+OK\r\n");
            client.poll_event().unwrap();
        }
    }
    let sent = match selector % 8 {
        0 => UserName::new(arg).map(|a| client.send(Command::User(a))),
        1 => Password::new(arg).map(|a| {
            client.send(Command::User(UserName::new("u").unwrap()))?;
            client.send(Command::Pass(a))
        }),
        2 => UserName::new(arg).map(|a| client.apop(a, &Password::new("p").unwrap())),
        3 => RawLine::new(arg).map(|line| {
            client.send(Command::Raw {
                line,
                multiline: false,
            })
        }),
        4 => LangTag::new(arg).map(|tag| client.send(Command::Lang(Some(tag)))),
        5 => MechanismName::new(arg)
            .map(|name| client.authenticate(Box::new(Named(name, arg.to_vec())))),
        6 => Password::new(arg).map(|_| client.send(Command::Noop)),
        _ => UserName::new(arg).map(|a| client.send(Command::Rpop(a))),
    };
    let Ok(result) = sent else {
        return; // refused by validation: nothing was built
    };
    let mut out = Vec::new();
    client.poll_transmit(&mut out);
    if result.is_err() {
        assert!(
            out.is_empty() || selector % 8 == 1,
            "sent {out:?} for a refused command"
        );
    }
    for line in out.split_inclusive(|&b| b == b'\n') {
        assert!(line.len() <= 255, "a {}-octet command", line.len());
        assert!(line.ends_with(b"\r\n"));
        let body = &line[..line.len() - 2];
        assert!(!body.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0));
    }
}

/// A mechanism with any valid name whose initial response is arbitrary bytes.
struct Named(MechanismName, Vec<u8>);

impl Mechanism for Named {
    fn name(&self) -> MechanismName {
        self.0.clone()
    }
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(Some(SaslResponse::new(self.1.clone())))
    }
    fn respond(&mut self, _: &[u8]) -> Result<SaslResponse, SaslError> {
        Ok(SaslResponse::new(self.1.clone()))
    }
}

#[cfg(test)]
mod corpus;

// ----- the server role ----------------------------------------------------------------------

/// A host for the server targets: a mailbox of `messages`, password `secret`.
struct ServerHost {
    messages: Vec<Vec<u8>>,
    chunk: usize,
}

impl ServerHost {
    fn serve(&mut self, server: &mut pop3_proto::server::Server) {
        use pop3_proto::server::{MessageInfo, Request};
        while let Some(request) = server.poll_request() {
            match request {
                Request::Login { password, .. } if password.as_bytes() == b"secret" => {
                    let listing = self
                        .messages
                        .iter()
                        .enumerate()
                        .map(|(i, m)| MessageInfo::new(m.len() as u64, format!("u{i}").as_bytes()))
                        .collect();
                    server.accept_login(listing);
                }
                Request::Login { .. } | Request::Apop { .. } => {
                    server.reject_login(Some(ResponseCode::Auth), "no")
                }
                Request::Retr { index, .. } | Request::Top { index, .. } => {
                    let body = self.messages[index].clone();
                    for piece in body.chunks(self.chunk.max(1)) {
                        if !server.body(piece) {
                            break;
                        }
                    }
                    server.end_body();
                }
                Request::Update { .. } => server.update_done(Ok(())),
                Request::StartTls => server.tls_established(),
                _ => {}
            }
        }
    }
}

/// Every line the server wrote ends in CRLF, holds no other control character, and is a
/// status line, a `+ ` continuation, a terminator, or a CAPA line (the only multi-line
/// replies a server without mail can give are CAPA and empty listings).
fn assert_well_framed(wire: &[u8]) {
    for line in wire.split_inclusive(|&b| b == b'\n') {
        let Some(content) = line.strip_suffix(b"\r\n") else {
            panic!("a reply line without CRLF: {line:?}");
        };
        assert!(
            content.iter().all(|&b| b >= 0x20),
            "a control character in a reply: {line:?}"
        );
        let capa_line = content.first().is_some_and(u8::is_ascii_uppercase);
        assert!(
            content.starts_with(b"+OK")
                || content.starts_with(b"-ERR")
                || content.starts_with(b"+ ")
                || content == b"."
                || capa_line,
            "not a reply line: {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

/// The server session under arbitrary client bytes in arbitrary reads: no panic, output
/// bounded while input is held back, every byte written a well-framed reply.
///
/// Input: a flag byte, a seed byte, then client bytes.
pub fn server(data: &[u8]) {
    use pop3_proto::server::{Server, ServerConfig};
    let [flags, seed, client @ ..] = data else {
        return;
    };
    let mut config = ServerConfig::default();
    config.allow_plaintext_auth = flags & 1 != 0;
    config.stls = flags & 2 != 0;
    config.max_output = 256;
    config.max_command_length = if flags & 4 != 0 { 32 } else { 255 };
    let mut server = Server::new(config);
    let mut host = ServerHost {
        messages: Vec::new(),
        chunk: 1 + usize::from(seed % 16),
    };
    server.greet(&[*seed]);
    let mut rng = Rng(u32::from(*seed) | 1);
    let mut fed = 0;
    let mut replies = Vec::new();
    while fed < client.len() && !server.is_finished() {
        if server.wants_input() {
            let end = (fed + 1 + rng.next(64)).min(client.len());
            server.handle_input(&client[fed..end]);
            fed = end;
        }
        host.serve(&mut server);
        let before = replies.len();
        server.poll_transmit(&mut replies);
        assert!(
            replies.len() - before <= 256 + 512,
            "output grew past its bound"
        );
        if !server.wants_input() && replies.len() == before {
            break; // the session is over, or waits for nothing a host gives
        }
    }
    server.handle_eof();
    host.serve(&mut server);
    server.poll_transmit(&mut replies);
    assert_well_framed(&replies);
}

/// Runs one client procedure against the server through an in-memory pipe.
fn drive<P: pop3_proto::procedures::Procedure>(
    client: &mut Client,
    server: &mut pop3_proto::server::Server,
    host: &mut ServerHost,
    mut p: P,
    mut each: impl FnMut(P::Item),
) -> P::Output {
    use pop3_proto::procedures::Step;
    loop {
        match p.step(client).expect("our client against our server") {
            Step::Done(out) => return out,
            Step::Item(item) => each(item),
            Step::StartTls(_) => panic!("no STLS here"),
            Step::Io => {
                let mut wire = Vec::new();
                client.poll_transmit(&mut wire);
                server.handle_input(&wire);
                host.serve(server);
                let mut back = Vec::new();
                server.poll_transmit(&mut back);
                assert!(
                    !(wire.is_empty() && back.is_empty()),
                    "deadlock between our client and our server"
                );
                client.handle_input(&back);
            }
        }
    }
}

/// Our client against our server over an in-memory pipe, with a random mailbox: every
/// message arrives byte-exact (a final CRLF added where a message lacks one), and the
/// deletions commit through QUIT.
///
/// Input: a chunk-size byte, then up to 64 messages separated by 0xFE bytes.
pub fn round_trip(data: &[u8]) {
    use pop3_proto::procedures::{Batch, BatchItem, Credentials, Login, Quit};
    use pop3_proto::server::{Server, ServerConfig};
    let [chunk, rest @ ..] = data else {
        return;
    };
    let messages: Vec<Vec<u8>> = rest
        .split(|&b| b == 0xfe)
        .take(64)
        .map(<[u8]>::to_vec)
        .collect();
    let mut config = ServerConfig::default();
    config.allow_plaintext_auth = true;
    let mut server = Server::new(config);
    let mut host = ServerHost {
        messages: messages.clone(),
        chunk: 1 + usize::from(*chunk),
    };
    server.greet(b"x");
    let mut client_config = Config::default();
    client_config.allow_plaintext_auth = true;
    let mut client = Client::new(client_config);
    let mut pipe = Vec::new();
    server.poll_transmit(&mut pipe);
    client.handle_input(&pipe);
    let login = Login::new(Credentials::UserPass {
        user: UserName::new("u").unwrap(),
        pass: Password::new("secret").unwrap(),
    });
    let (c, s, h) = (&mut client, &mut server, &mut host);
    drive(c, s, h, login, |n| match n {}).expect("login");
    let all: Vec<std::num::NonZeroU32> = (1..=messages.len() as u32)
        .filter_map(std::num::NonZeroU32::new)
        .collect();
    let mut got = vec![Vec::new(); messages.len()];
    drive(c, s, h, Batch::retr(all.clone()), |item| {
        if let BatchItem::Data { msg, data } = item {
            got[msg.get() as usize - 1].extend_from_slice(&data);
        }
    });
    for (i, m) in messages.iter().enumerate() {
        let mut want = m.clone();
        if !want.is_empty() && !want.ends_with(b"\r\n") {
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(got[i], want, "message {}", i + 1);
    }
    let report = drive(c, s, h, Batch::dele(all), |_| ());
    assert!(report.refused.is_empty());
    let outcome = drive(c, s, h, Quit::new(), |n| match n {});
    assert!(outcome.is_committed(), "{outcome:?}");
}
