//! One test per row of `shared/BAD-INPUT.md` that concerns the sans-IO core: what a hostile or
//! broken server sends, and the exact outcome the `Client` must give — the exact error (and
//! that it is sticky and sends nothing more, not even QUIT), or the exact bytes delivered.
//!
//! Rows 2 and 38 are driver-level: row 2 is tested through the core's own `response_timeout`,
//! row 38 is left to the drivers. Row 48 (1 GB RETR) lives in `tests/streaming.rs`; row 24 has
//! a 10 MB version here.
//!
//! Only the public API is used.

use core::num::NonZeroU32;
use core::time::Duration;

use pop3_proto::codec::greeting::OtherProtocol;
use pop3_proto::codec::line::LineError;
use pop3_proto::codec::listing::ListingError;
use pop3_proto::sasl::{Mechanism, Plain, SaslError, SaslResponse};
use pop3_proto::{
    ArgumentError, Capabilities, Capability, Client, Command, Config, Error, Event, Handle,
    Instant, LocalError, MechanismName, Password, Pipelining, QuitOutcome, RawLine, RemoteError,
    ResponseCode, ScanListing, ServerText, SessionState, Stat, Status, Uid, UserName,
};

// ----- helpers ---------------------------------------------------------------------------

/// A message number.
fn n(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// A status as the server sends it (strictly parsed).
fn status(line: &[u8]) -> Status {
    Status::parse(line, Default::default()).unwrap()
}

fn text(bytes: &[u8]) -> ServerText {
    ServerText::from_slice(bytes)
}

fn at(secs: u64) -> Instant {
    Instant::from_elapsed(Duration::from_secs(secs))
}

/// Everything `poll_transmit` writes now.
fn transmit(client: &mut Client) -> Vec<u8> {
    let mut out = Vec::new();
    let n = client.poll_transmit(&mut out);
    assert_eq!(n, out.len());
    out
}

/// A client that has received a plain `+OK` greeting.
fn greeted(config: Config) -> Client {
    greeted_with(config, b"+OK POP3 server ready\r\n")
}

fn greeted_with(config: Config, greeting: &[u8]) -> Client {
    let mut client = Client::new(config);
    client.handle_input(greeting);
    match client.poll_event() {
        Ok(Some(Event::Greeting(g))) => assert!(g.status().is_ok()),
        other => panic!("expected the greeting, got {other:?}"),
    }
    assert_eq!(client.state(), SessionState::Authorization);
    client
}

/// A client logged in with USER/PASS: in the TRANSACTION state, nothing in flight.
fn logged_in(config: Config) -> Client {
    let mut client = greeted(config);
    for (command, wire, reply) in [
        (
            Command::User(UserName::new("mrose").unwrap()),
            &b"USER mrose\r\n"[..],
            &b"+OK mrose is a real hoopy frood"[..],
        ),
        (
            Command::Pass(Password::new("secret").unwrap()),
            b"PASS secret\r\n",
            b"+OK maildrop locked and ready",
        ),
    ] {
        let handle = exchange(&mut client, command, wire, &[reply, b"\r\n"].concat());
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::Status {
                handle,
                status: status(reply),
            }))
        );
    }
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.state(), SessionState::Transaction);
    assert_eq!(client.in_flight(), 0);
    client
}

/// Sends `command`, checks it is written as `wire`, then feeds `reply`.
fn exchange(client: &mut Client, command: Command, wire: &[u8], reply: &[u8]) -> Handle {
    let handle = client.send(command).unwrap();
    assert_eq!(transmit(client), wire);
    client.handle_input(reply);
    handle
}

/// Takes events until the session needs input or fails.
fn drain(client: &mut Client) -> (Vec<Event>, Option<Error>) {
    let mut events = Vec::new();
    loop {
        match client.poll_event() {
            Ok(Some(event)) => events.push(event),
            Ok(None) => return (events, None),
            Err(e) => return (events, Some(e)),
        }
    }
}

/// Takes events until the session needs input; panics on an error.
fn events(client: &mut Client) -> Vec<Event> {
    let (events, error) = drain(client);
    assert_eq!(error, None, "unexpected error after {events:?}");
    events
}

/// Takes events until the session fails, checks the failure is exactly `expected` and that
/// it is sticky and silent; returns the events that came before it.
fn fatal(client: &mut Client, expected: RemoteError) -> Vec<Event> {
    let (events, error) = drain(client);
    assert_eq!(
        error,
        Some(Error::Remote(expected.clone())),
        "events before: {events:?}"
    );
    assert_sticky(client, &expected);
    events
}

/// The rules after a fatal error: the same error from every call, no bytes written (no QUIT),
/// input ignored, no deadline.
fn assert_sticky(client: &mut Client, expected: &RemoteError) {
    let error = Error::Remote(expected.clone());
    assert_eq!(client.poll_event(), Err(error.clone()));
    assert_eq!(client.error(), Some(expected));
    for command in [
        Command::Quit,
        Command::Noop,
        Command::Capa,
        Command::Stat,
        Command::User(UserName::new("u").unwrap()),
    ] {
        assert_eq!(client.send(command), Err(error.clone()));
    }
    assert_eq!(
        client.apop(UserName::new("u").unwrap(), &Password::new("p").unwrap()),
        Err(error.clone())
    );
    assert_eq!(
        client.authenticate(Box::new(TestMech::new("X-TEST"))),
        Err(error.clone())
    );
    assert_eq!(transmit(client), b"", "wrote something after a fatal error");
    client.handle_input(b"+OK\r\n");
    client.handle_eof();
    client.handle_timeout(at(1_000_000));
    assert_eq!(client.poll_timeout(), None);
    assert_eq!(client.poll_event(), Err(error.clone()));
    assert_eq!(transmit(client), b"", "wrote something after a fatal error");
}

/// The concatenated body chunks of `handle`.
fn body_of(events: &[Event], handle: Handle) -> Vec<u8> {
    let mut body = Vec::new();
    for event in events {
        if let Event::BodyChunk { handle: h, data } = event {
            assert_eq!(*h, handle);
            body.extend_from_slice(data);
        }
    }
    body
}

/// The events of a `+OK` multi-line reply to `handle` whose body comes as one chunk, `data`.
fn one_chunk_body(handle: Handle, data: &'static [u8]) -> [Event; 3] {
    [
        Event::MultiStart {
            handle,
            status: status(b"+OK"),
        },
        Event::BodyChunk {
            handle,
            data: data.into(),
        },
        Event::MultiEnd { handle },
    ]
}

/// Events with adjacent body chunks merged (chunking is not part of the contract).
fn merged(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for event in events {
        if let (
            Some(Event::BodyChunk { handle: a, data: d }),
            Event::BodyChunk { handle: b, data: e },
        ) = (out.last_mut(), &event)
        {
            if a == b {
                let mut joined = d.to_vec();
                joined.extend_from_slice(e);
                *d = joined.into();
                continue;
            }
        }
        out.push(event);
    }
    out
}

/// Feeds `pieces` one read each, taking events after every read.
fn feed_pieces(client: &mut Client, pieces: &[&[u8]]) -> Vec<Event> {
    let mut all = Vec::new();
    for piece in pieces {
        client.handle_input(piece);
        all.extend(events(client));
    }
    all
}

/// A RETR 1 on a fresh logged-in client whose reply is fed as `pieces`; returns the handle
/// and the (merged) events.
fn retr_in_pieces(config: Config, pieces: &[&[u8]]) -> (Handle, Vec<Event>) {
    let mut client = logged_in(config);
    let retr = client.send(Command::Retr(n(1))).unwrap();
    assert_eq!(transmit(&mut client), b"RETR 1\r\n");
    let events = merged(feed_pieces(&mut client, pieces));
    (retr, events)
}

/// A SASL mechanism for tests: a fixed initial response, a fixed answer to every
/// challenge, and a configurable verdict on the server's `+OK` (a stand-in for SCRAM).
struct TestMech {
    name: &'static str,
    initial: Option<Vec<u8>>,
    response: Vec<u8>,
    verdict: Result<(), SaslError>,
    challenges: usize,
}

impl TestMech {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            initial: None,
            response: b"resp".to_vec(),
            verdict: Ok(()),
            challenges: 0,
        }
    }
}

impl Mechanism for TestMech {
    fn name(&self) -> MechanismName {
        MechanismName::new(self.name).unwrap()
    }

    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(self.initial.clone().map(SaslResponse::new))
    }

    fn respond(&mut self, _challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        self.challenges += 1;
        Ok(SaslResponse::new(self.response.clone()))
    }

    fn finish(&mut self) -> Result<(), SaslError> {
        self.verdict.clone()
    }
}

/// A greeted client that has sent `AUTH X-TEST` (no initial response).
fn in_sasl(config: Config, mechanism: TestMech) -> (Client, Handle) {
    let mut client = greeted(config);
    let auth = client.authenticate(Box::new(mechanism)).unwrap();
    assert_eq!(transmit(&mut client), b"AUTH X-TEST\r\n");
    assert_eq!(client.state(), SessionState::Sasl);
    (client, auth)
}

// ----- greeting and status lines ---------------------------------------------------------

#[test]
fn row_01_err_greeting_is_fatal_with_code_kept() {
    // 1. Greeting `-ERR …` (with or without `[SYS/TEMP]`, `[SYS/PERM]`, `[IN-USE]`) → E, code kept.
    let cases: [(&[u8], Option<ResponseCode>); 4] = [
        (b"-ERR go away", None),
        (
            b"-ERR [SYS/TEMP] too busy, try later",
            Some(ResponseCode::SysTemp),
        ),
        (
            b"-ERR [SYS/PERM] maildrop gone",
            Some(ResponseCode::SysPerm),
        ),
        (b"-ERR [IN-USE] maildrop locked", Some(ResponseCode::InUse)),
    ];
    for (line, code) in cases {
        let mut client = Client::new(Config::default());
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\n");
        client.handle_input(&wire);
        let events = fatal(
            &mut client,
            RemoteError::GreetingRejected {
                status: status(line),
            },
        );
        assert!(events.is_empty());
        match client.error() {
            Some(RemoteError::GreetingRejected { status }) => {
                assert!(!status.is_ok());
                assert_eq!(status.code(), code.as_ref());
            }
            other => panic!("{other:?}"),
        }
        assert!(client.greeting().is_none());
    }
}

#[test]
fn row_02_core_response_timeout_fires_without_greeting_or_reply() {
    // 2. No greeting, or half a greeting then silence → driver timeout → E.
    let mut config = Config::default();
    config.response_timeout = Some(Duration::from_secs(10));

    // No greeting at all.
    let mut client = Client::new(config.clone());
    client.handle_timeout(at(0));
    assert_eq!(client.poll_timeout(), Some(at(10)));
    client.handle_timeout(at(9));
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.poll_timeout(), Some(at(10)));
    client.handle_timeout(at(10));
    fatal(
        &mut client,
        RemoteError::Timeout {
            waiting_for: "waiting for the greeting",
        },
    );

    // Half a greeting, then silence: the deadline counts from the last input.
    let mut client = Client::new(config.clone());
    client.handle_timeout(at(0));
    client.handle_input(b"+OK POP3 ser");
    client.handle_timeout(at(3));
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.poll_timeout(), Some(at(13)));
    client.handle_timeout(at(12));
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_timeout(at(13));
    fatal(
        &mut client,
        RemoteError::Timeout {
            waiting_for: "waiting for the greeting",
        },
    );

    // A command sent, its reply never comes.
    let mut client = logged_in(config);
    client.send(Command::Stat).unwrap();
    assert_eq!(transmit(&mut client), b"STAT\r\n");
    client.handle_timeout(at(100));
    assert_eq!(client.poll_timeout(), Some(at(110)));
    client.handle_input(b"+OK 1");
    client.handle_timeout(at(105));
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.poll_timeout(), Some(at(115)));
    client.handle_timeout(at(115));
    fatal(
        &mut client,
        RemoteError::Timeout {
            waiting_for: "waiting for a reply",
        },
    );
}

#[test]
fn row_03_status_line_without_crlf_fails_at_the_limit() {
    // 3. Status line longer than the limit with no CRLF in sight → E after at most limit bytes held.
    // Fed one byte at a time: still waiting at 511 bytes, an error at byte 512.
    let mut client = Client::new(Config::default());
    let mut line = b"+OK ".to_vec();
    line.resize(600, b'x');
    for (i, b) in line.iter().enumerate() {
        client.handle_input(&[*b]);
        if i + 1 < 512 {
            assert_eq!(client.poll_event(), Ok(None), "after {} bytes", i + 1);
        } else {
            break;
        }
    }
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 512 },
            waiting_for: "waiting for the greeting",
        },
    );

    // A reply to a command, 100 kB without a line end, arriving at once.
    let mut client = logged_in(Config::default());
    let mut reply = b"+OK ".to_vec();
    reply.resize(100_000, b'y');
    exchange(&mut client, Command::Noop, b"NOOP\r\n", &reply);
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 512 },
            waiting_for: "reading a reply",
        },
    );

    // The limit is the configured one.
    let mut config = Config::default();
    config.max_line_length = 64;
    let mut client = Client::new(config);
    client.handle_input(&[b'+'; 63]);
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_input(b"+");
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 64 },
            waiting_for: "waiting for the greeting",
        },
    );
}

/// A status line of exactly `len` octets, CRLF included.
fn line_of(prefix: &[u8], len: usize) -> Vec<u8> {
    let mut line = prefix.to_vec();
    line.resize(len - 2, b'x');
    line.extend_from_slice(b"\r\n");
    line
}

#[test]
fn row_04_status_line_at_the_limit_is_accepted_one_over_is_not() {
    // 4. Status line of exactly the limit vs one over → accepted / E (boundary test).
    let exact = line_of(b"+OK ", 512);
    let mut client = Client::new(Config::default());
    client.handle_input(&exact);
    match client.poll_event() {
        Ok(Some(Event::Greeting(g))) => assert_eq!(g.status(), &status(&exact[..510])),
        other => panic!("{other:?}"),
    }

    let over = line_of(b"+OK ", 513);
    let mut client = Client::new(Config::default());
    client.handle_input(&over);
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 512 },
            waiting_for: "waiting for the greeting",
        },
    );

    // The same for a reply.
    let mut client = logged_in(Config::default());
    let noop = exchange(&mut client, Command::Noop, b"NOOP\r\n", &exact);
    assert_eq!(
        events(&mut client),
        [Event::Status {
            handle: noop,
            status: status(&exact[..510]),
        }]
    );
    exchange(&mut client, Command::Noop, b"NOOP\r\n", &over);
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 512 },
            waiting_for: "reading a reply",
        },
    );
}

#[test]
fn row_05_bare_lf_or_bare_cr_in_a_status_line_is_fatal() {
    // 5. Bare LF or bare CR inside a status line → E (strict default).
    let cases: [(&[u8], LineError); 4] = [
        (b"+OK ready\n", LineError::BareLf),
        (b"+OK ready\nmore\r\n", LineError::BareLf),
        (b"+OK rea\rdy\r\n", LineError::BareCr),
        (b"+OK ready\r\r\n", LineError::BareCr),
    ];
    for (wire, problem) in cases {
        let mut client = Client::new(Config::default());
        client.handle_input(wire);
        fatal(
            &mut client,
            RemoteError::BadLine {
                problem,
                waiting_for: "waiting for the greeting",
            },
        );

        let mut client = logged_in(Config::default());
        exchange(&mut client, Command::Noop, b"NOOP\r\n", wire);
        fatal(
            &mut client,
            RemoteError::BadLine {
                problem,
                waiting_for: "reading a reply",
            },
        );
    }
}

#[test]
fn row_06_nul_in_a_status_line_is_fatal() {
    // 6. NUL byte in a status line → E.
    for wire in [&b"+OK hel\0lo\r\n"[..], b"\0+OK\r\n", b"+OK\0\r\n"] {
        let mut client = Client::new(Config::default());
        client.handle_input(wire);
        fatal(
            &mut client,
            RemoteError::BadLine {
                problem: LineError::Nul,
                waiting_for: "waiting for the greeting",
            },
        );
    }
    let mut client = logged_in(Config::default());
    exchange(&mut client, Command::Noop, b"NOOP\r\n", b"+OK a\0b\r\n");
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::Nul,
            waiting_for: "reading a reply",
        },
    );
}

#[test]
fn row_07_invalid_utf8_in_status_text_and_capa_is_kept_as_bytes() {
    // 7. Invalid UTF-8 in status text or CAPA → kept as bytes, never a panic.
    let mut client = Client::new(Config::default());
    client.handle_input(b"+OK \xff\xfe\xc3( ready\r\n");
    match client.poll_event() {
        Ok(Some(Event::Greeting(g))) => {
            assert_eq!(g.status().text().as_bytes(), b"\xff\xfe\xc3( ready");
            assert_eq!(g.status().text().to_str(), None);
            assert_eq!(g.status().text().to_string(), r"\xff\xfe\xc3( ready");
        }
        other => panic!("{other:?}"),
    }

    let capa = exchange(
        &mut client,
        Command::Capa,
        b"CAPA\r\n",
        b"+OK \x80\r\nIMPLEMENTATION \xff\xfe\x80\r\nX-\xc3\x28 \xe2\x82\r\nSASL PL\xc0IN\r\n.\r\n",
    );
    assert_eq!(
        events(&mut client),
        [
            Event::MultiStart {
                handle: capa,
                status: status(b"+OK \x80"),
            },
            Event::CapaEntry {
                handle: capa,
                capability: Capability::Implementation(text(b"\xff\xfe\x80")),
            },
            Event::CapaEntry {
                handle: capa,
                capability: Capability::Other(text(b"X-\xc3\x28 \xe2\x82")),
            },
            Event::CapaEntry {
                handle: capa,
                capability: Capability::Sasl(vec![text(b"PL\xc0IN")]),
            },
            Event::MultiEnd { handle: capa },
        ]
    );
    let caps = client.capabilities().unwrap();
    assert_eq!(caps.implementation, Some(text(b"\xff\xfe\x80")));
    assert_eq!(caps.other, [text(b"X-\xc3\x28 \xe2\x82")]);
    assert_eq!(caps.other[0].to_string(), r"X-\xc3( \xe2\x82");

    // In a -ERR to a command, too.
    let mut client = logged_in(Config::default());
    let dele = exchange(
        &mut client,
        Command::Dele(n(1)),
        b"DELE 1\r\n",
        b"-ERR no such message \xe9\r\n",
    );
    assert_eq!(
        events(&mut client),
        [Event::Status {
            handle: dele,
            status: status(b"-ERR no such message \xe9"),
        }]
    );
}

#[test]
fn row_08_empty_line_instead_of_a_status_line_is_fatal() {
    // 8. Empty line where a status line is due → E.
    let mut client = Client::new(Config::default());
    client.handle_input(b"\r\n");
    fatal(
        &mut client,
        RemoteError::NotPop3 {
            protocol: None,
            line: text(b""),
        },
    );

    let mut client = logged_in(Config::default());
    exchange(&mut client, Command::Noop, b"NOOP\r\n", b"\r\n");
    fatal(
        &mut client,
        RemoteError::BadStatusLine {
            command: "NOOP",
            line: text(b""),
        },
    );
}

#[test]
fn row_09_malformed_indicators_are_fatal_lower_case_is_an_option() {
    // 9. `+OKAY`, `+OKfoo`, `-ERROR`, `+ok` → E (lower case may be P).
    for line in [
        &b"+OKAY"[..],
        b"+OKfoo",
        b"-ERROR",
        b"+ok",
        b"-err",
        b"+Ok ready",
    ] {
        let mut wire = line.to_vec();
        wire.extend_from_slice(b"\r\n");

        let mut client = Client::new(Config::default());
        client.handle_input(&wire);
        fatal(
            &mut client,
            RemoteError::NotPop3 {
                protocol: None,
                line: text(line),
            },
        );

        let mut client = logged_in(Config::default());
        exchange(&mut client, Command::Noop, b"NOOP\r\n", &wire);
        fatal(
            &mut client,
            RemoteError::BadStatusLine {
                command: "NOOP",
                line: text(line),
            },
        );
    }

    // P: lower case accepted when asked for; the others stay errors.
    let mut config = Config::default();
    config.lenient.lowercase_status = true;
    let mut client = greeted_with(config.clone(), b"+ok hello\r\n");
    let capa = exchange(&mut client, Command::Capa, b"CAPA\r\n", b"-err no CAPA\r\n");
    let events = events(&mut client);
    assert_eq!(events.len(), 1);
    match &events[0] {
        Event::Status { handle, status } => {
            assert_eq!(*handle, capa);
            assert!(!status.is_ok());
            assert_eq!(status.text().as_bytes(), b"no CAPA");
        }
        other => panic!("{other:?}"),
    }
    exchange(&mut client, Command::Capa, b"CAPA\r\n", b"+OKAY\r\n");
    fatal(
        &mut client,
        RemoteError::BadStatusLine {
            command: "CAPA",
            line: text(b"+OKAY"),
        },
    );
}

#[test]
fn row_10_other_protocols_are_named() {
    // 10. Another protocol on the port (`220 smtp`, `* OK IMAP`, TLS bytes on 110) → E naming it.
    let long_smtp = b"220 mx.example.com ESMTP Postfix (Debian/GNU) ready for mail, no UCE\r\n";
    let cases: [(&[u8], OtherProtocol, &[u8]); 7] = [
        (
            b"220 smtp.example ESMTP\r\n",
            OtherProtocol::Smtp,
            b"220 smtp.example ESMTP",
        ),
        (long_smtp, OtherProtocol::Smtp, &long_smtp[..64]), // the quotation is bounded
        (
            b"220-ProFTPD FTP Server\r\n",
            OtherProtocol::Ftp,
            b"220-ProFTPD FTP Server",
        ),
        (
            b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
            OtherProtocol::Imap,
            b"* OK [CAPABILITY IMAP4rev1] ready",
        ),
        // A TLS record (a ServerHello or an alert): no line end ever comes.
        (
            b"\x16\x03\x03\x00\x7a\x02\x00",
            OtherProtocol::Tls,
            b"\x16\x03\x03\x00\x7a\x02\x00",
        ),
        (
            b"SSH-2.0-OpenSSH_9.6\r\n",
            OtherProtocol::Ssh,
            b"SSH-2.0-OpenSSH_9.6",
        ),
        (
            b"HTTP/1.1 400 Bad Request\r\n",
            OtherProtocol::Http,
            b"HTTP/1.1 400 Bad Request",
        ),
    ];
    for (wire, protocol, quoted) in cases {
        let mut client = Client::new(Config::default());
        client.handle_input(wire);
        fatal(
            &mut client,
            RemoteError::NotPop3 {
                protocol: Some(protocol),
                line: text(quoted),
            },
        );
    }

    let mut client = Client::new(Config::default());
    client.handle_input(b"220 smtp.example ESMTP\r\n");
    let error = client.poll_event().unwrap_err();
    assert_eq!(
        error.to_string(),
        "the server is not a POP3 server: it looks like an SMTP server (wrong port?)"
    );
    let mut client = Client::new(Config::default());
    client.handle_input(b"\x15\x03\x01\x00\x02\x02\x46");
    let error = client.poll_event().unwrap_err();
    assert_eq!(
        error.to_string(),
        "the server is not a POP3 server: it looks like TLS (use implicit TLS, usually port 995, for this port)"
    );
}

#[test]
fn row_10_other_protocols_are_named_whatever_the_chunking() {
    // 10. Another protocol on the port (`220 smtp`, `* OK IMAP`, TLS bytes on 110) → E naming it.
    // The banner fed one byte per read names the same protocol as fed whole.
    let cases: [(&[u8], OtherProtocol); 6] = [
        (b"220 smtp.example ESMTP\r\n", OtherProtocol::Smtp),
        (
            b"* OK [CAPABILITY IMAP4rev1] ready\r\n",
            OtherProtocol::Imap,
        ),
        (b"\x16\x03\x03\x00\x7a\x02\x00", OtherProtocol::Tls),
        (b"SSH-2.0-OpenSSH_9.6\r\n", OtherProtocol::Ssh),
        (b"HTTP/1.1 400 Bad Request\r\n", OtherProtocol::Http),
        (b"220-ProFTPD FTP Server\r\n", OtherProtocol::Ftp),
    ];
    for (wire, protocol) in cases {
        let mut client = Client::new(Config::default());
        let mut error = None;
        for b in wire {
            client.handle_input(&[*b]);
            if let Err(e) = client.poll_event() {
                error = Some(e);
                break;
            }
        }
        match error {
            Some(Error::Remote(RemoteError::NotPop3 { protocol: p, .. })) => assert_eq!(
                p,
                Some(protocol),
                "{:?} fed byte by byte",
                String::from_utf8_lossy(wire)
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn row_11_terminal_escapes_are_escaped_when_displayed() {
    // 11. Terminal escape sequences in server text → escaped when displayed or logged.
    let mut client = Client::new(Config::default());
    client.handle_input(b"+OK \x1b]0;pwned\x07\x1b[2J ready\r\n");
    match client.poll_event() {
        Ok(Some(Event::Greeting(g))) => {
            assert_eq!(
                g.status().text().as_bytes(),
                b"\x1b]0;pwned\x07\x1b[2J ready"
            );
            assert_eq!(
                g.status().text().to_string(),
                r"\x1b]0;pwned\x07\x1b[2J ready"
            );
            assert_eq!(g.status().to_string(), r"+OK \x1b]0;pwned\x07\x1b[2J ready");
            assert!(!format!("{g:?}").contains('\x1b'));
        }
        other => panic!("{other:?}"),
    }

    let mut client = Client::new(Config::default());
    client.handle_input(b"-ERR [IN-USE] \x1b[31mlocked\x1b[0m\r\n");
    let error = client.poll_event().unwrap_err();
    assert_eq!(
        error.to_string(),
        r"the server refused the session: -ERR [IN-USE] \x1b[31mlocked\x1b[0m"
    );
    assert!(!format!("{error:?}").contains('\x1b'));

    let mut client = logged_in(Config::default());
    exchange(&mut client, Command::Noop, b"NOOP\r\n", b"\x1b[2J\x1bc\r\n");
    let error = client.poll_event().unwrap_err();
    assert_eq!(
        error.to_string(),
        r#"expected +OK or -ERR in reply to NOOP, got "\x1b[2J\x1bc""#
    );
    assert!(!format!("{error:?}").contains('\x1b'));
}

// ----- sequencing ------------------------------------------------------------------------

#[test]
fn row_12_lines_after_the_greeting_nobody_asked_for_are_unsolicited() {
    // 12. Lines after the greeting that nobody asked for → E `Unsolicited`.
    let mut client = Client::new(Config::default());
    client.handle_input(b"+OK ready\r\n+OK extra\r\n");
    let events = fatal(
        &mut client,
        RemoteError::Unsolicited {
            data: text(b"+OK extra\r\n"),
        },
    );
    assert!(matches!(events.as_slice(), [Event::Greeting(_)]));

    // The same extra line must not be taken as the reply to a command sent after it arrived.
    let mut client = Client::new(Config::default());
    client.handle_input(b"+OK ready\r\n+OK welcome, mrose\r\n");
    assert!(matches!(client.poll_event(), Ok(Some(Event::Greeting(_)))));
    client
        .send(Command::User(UserName::new("mrose").unwrap()))
        .unwrap();
    assert_eq!(transmit(&mut client), b"USER mrose\r\n");
    fatal(
        &mut client,
        RemoteError::Unsolicited {
            data: text(b"+OK welcome, mrose\r\n"),
        },
    );
}

#[test]
fn row_13_any_byte_while_nothing_is_in_flight_is_fatal() {
    // 13. Any byte while nothing is in flight → E.
    let mut client = logged_in(Config::default());
    client.handle_input(b"x");
    fatal(&mut client, RemoteError::Unsolicited { data: text(b"x") });

    // A reply that arrived before its command was written.
    let mut client = logged_in(Config::default());
    client.send(Command::Noop).unwrap();
    client.handle_input(b"+OK\r\n");
    assert_eq!(transmit(&mut client), b"NOOP\r\n");
    fatal(
        &mut client,
        RemoteError::Unsolicited {
            data: text(b"+OK\r\n"),
        },
    );

    // Bytes after a body's terminator with nothing else in flight.
    let mut client = logged_in(Config::default());
    let retr = exchange(
        &mut client,
        Command::Retr(n(1)),
        b"RETR 1\r\n",
        b"+OK\r\nhi\r\n.\r\nJUNK",
    );
    let events = fatal(
        &mut client,
        RemoteError::Unsolicited {
            data: text(b"JUNK"),
        },
    );
    assert_eq!(events, one_chunk_body(retr, b"hi\r\n"));
}

#[test]
fn row_14_one_response_more_than_commands_pipelined_is_fatal() {
    // 14. One more response than commands sent (pipelined) → E.
    let mut config = Config::default();
    config.pipelining = Pipelining::On;
    let mut client = logged_in(config);
    let a = client.send(Command::Noop).unwrap();
    let b = client.send(Command::Rset).unwrap();
    assert_eq!(transmit(&mut client), b"NOOP\r\nRSET\r\n");
    client.handle_input(b"+OK\r\n+OK reset\r\n+OK bonus\r\n");
    let events = fatal(
        &mut client,
        RemoteError::Unsolicited {
            data: text(b"+OK bonus\r\n"),
        },
    );
    assert_eq!(
        events,
        [
            Event::Status {
                handle: a,
                status: status(b"+OK"),
            },
            Event::Status {
                handle: b,
                status: status(b"+OK reset"),
            },
        ]
    );
}

#[test]
fn row_15_data_after_quit_ok_is_ignored() {
    // 15. Data after QUIT's `+OK` → ignored, connection closed.
    let mut client = logged_in(Config::default());
    let quit = exchange(
        &mut client,
        Command::Quit,
        b"QUIT\r\n",
        b"+OK bye\r\n+OK more junk\r\n\x00\xff",
    );
    assert_eq!(
        events(&mut client),
        [Event::Closed {
            handle: quit,
            outcome: QuitOutcome::Committed(status(b"+OK bye")),
        }]
    );
    assert_eq!(client.state(), SessionState::Closed);
    client.handle_input(b"-ERR late\r\n");
    client.handle_eof();
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(client.error(), None);
    assert_eq!(transmit(&mut client), b"");
    assert_eq!(
        client.send(Command::Noop),
        Err(Error::Local(LocalError::Closed))
    );
    assert_eq!(transmit(&mut client), b"");
}

#[test]
fn row_16_eof_before_quit_reply_is_unknown_outcome() {
    // 16. EOF after QUIT was sent but before its reply → QUIT outcome "unknown" (not "committed").
    for partial in [&b""[..], b"+OK bye"] {
        let mut client = logged_in(Config::default());
        client.send(Command::Dele(n(1))).unwrap();
        assert_eq!(transmit(&mut client), b"DELE 1\r\n");
        client.handle_input(b"+OK message 1 deleted\r\n");
        events(&mut client);
        let quit = exchange(&mut client, Command::Quit, b"QUIT\r\n", partial);
        assert_eq!(client.state(), SessionState::Update);
        assert_eq!(client.poll_event(), Ok(None));
        client.handle_eof();
        let events = events(&mut client);
        assert_eq!(
            events,
            [Event::Closed {
                handle: quit,
                outcome: QuitOutcome::Unknown,
            }]
        );
        if let Event::Closed { outcome, .. } = &events[0] {
            assert!(!outcome.is_committed());
        }
        assert_eq!(client.state(), SessionState::Closed);
        assert_eq!(transmit(&mut client), b"");
    }
}

#[test]
fn row_17_err_to_quit_is_reported_not_committed() {
    // 17. `-ERR` to QUIT → outcome "not (fully) committed", reported.
    let mut client = logged_in(Config::default());
    let quit = exchange(
        &mut client,
        Command::Quit,
        b"QUIT\r\n",
        b"-ERR [SYS/TEMP] some deleted messages not removed\r\n",
    );
    let events = events(&mut client);
    assert_eq!(
        events,
        [Event::Closed {
            handle: quit,
            outcome: QuitOutcome::NotCommitted(status(
                b"-ERR [SYS/TEMP] some deleted messages not removed"
            )),
        }]
    );
    if let Event::Closed { outcome, .. } = &events[0] {
        assert!(!outcome.is_committed());
    }
    assert_eq!(client.state(), SessionState::Closed);
    assert_eq!(transmit(&mut client), b"");
}

#[test]
fn row_18_every_call_after_a_fatal_error_returns_it_and_sends_nothing() {
    // 18. Any call after a fatal error → the same error at once, no I/O.
    let mut client = logged_in(Config::default());
    client.send(Command::Noop).unwrap();
    assert_eq!(transmit(&mut client), b"NOOP\r\n");
    // Queued behind the NOOP (no pipelining): a deletion and the QUIT that would commit it.
    client.send(Command::Dele(n(1))).unwrap();
    client.send(Command::Quit).unwrap();
    assert_eq!(client.queued(), 2);
    client.handle_input(b"+OKAY\r\n");
    let expected = RemoteError::BadStatusLine {
        command: "NOOP",
        line: text(b"+OKAY"),
    };
    fatal(&mut client, expected.clone());
    // Neither the DELE nor the QUIT ever goes out.
    assert_eq!(client.queued(), 0);
    assert_eq!(client.in_flight(), 0);
    assert_eq!(transmit(&mut client), b"");
    // Reading into read_space is ignored too.
    let space = client.read_space();
    space[..5].copy_from_slice(b"+OK\r\n");
    assert_eq!(client.commit_read(5), Ok(()));
    assert_eq!(client.poll_event(), Err(Error::Remote(expected)));
    assert_eq!(transmit(&mut client), b"");
}

#[test]
fn row_18_tls_established_after_a_fatal_error_is_refused() {
    // 18. Any call after a fatal error → the same error at once, no I/O.
    // Plaintext injected during the TLS handshake kills the session; a later
    // tls_established() must not report success nor turn the dead session into a TLS one.
    let mut client = greeted(Config::default());
    let stls = exchange(
        &mut client,
        Command::Stls,
        b"STLS\r\n",
        b"+OK begin TLS\r\n",
    );
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::UpgradeToTls { handle: stls }))
    );
    client.handle_input(b"+OK injected\r\n");
    let expected = RemoteError::DataAfterStls {
        data: text(b"+OK injected\r\n"),
    };
    assert_eq!(client.poll_event(), Err(Error::Remote(expected.clone())));
    assert!(client.tls_established().is_err());
    assert!(!client.is_tls());
    assert_sticky(&mut client, &expected);
}

// ----- multi-line responses and bodies ---------------------------------------------------

#[test]
fn row_19_bare_lf_dot_in_a_body_is_data() {
    // 19. Body contains `\n.\n` or `\n.\r\n` (bare LF before the dot) → D, not a terminator.
    let (retr, events) = retr_in_pieces(Config::default(), &[b"+OK\r\na\n.\nb\n.\r\nc\r\n.\r\n"]);
    assert_eq!(events, one_chunk_body(retr, b"a\n.\nb\n.\r\nc\r\n"));
}

#[test]
fn row_19_lenient_bare_lf_is_never_applied_while_pipelining() {
    // 19. Body contains `\n.\n` or `\n.\r\n` (bare LF before the dot) → D, not a terminator.
    // Leniency::bare_lf is documented as never applied while pipelining: otherwise message
    // content could end the body early and smuggle responses to later commands.
    let mut config = Config::default();
    config.pipelining = Pipelining::On;
    config.lenient.bare_lf = true;
    let mut client = logged_in(config);
    let retr = client.send(Command::Retr(n(1))).unwrap();
    let dele = client.send(Command::Dele(n(2))).unwrap();
    assert_eq!(transmit(&mut client), b"RETR 1\r\nDELE 2\r\n");
    client.handle_input(b"+OK\r\na\n.\n+OK smuggled\r\n.\r\n+OK message 2 deleted\r\n");
    assert_eq!(
        merged(events(&mut client)),
        [
            Event::MultiStart {
                handle: retr,
                status: status(b"+OK"),
            },
            Event::BodyChunk {
                handle: retr,
                data: b"a\n.\n+OK smuggled\r\n"[..].into(),
            },
            Event::MultiEnd { handle: retr },
            Event::Status {
                handle: dele,
                status: status(b"+OK message 2 deleted"),
            },
        ]
    );
}

#[test]
fn row_20_dots_are_unstuffed_once() {
    // 20. `..` → `.`; `...` → `..`; `.x` (unstuffed by a broken server) → `x` (first octet stripped).
    let (retr, events) = retr_in_pieces(
        Config::default(),
        &[b"+OK\r\n..\r\n...\r\n.x\r\n..dot\r\nend\r\n.\r\n"],
    );
    assert_eq!(body_of(&events, retr), b".\r\n..\r\nx\r\n.dot\r\nend\r\n");
    assert_eq!(events.last(), Some(&Event::MultiEnd { handle: retr }));
}

#[test]
fn row_21_terminator_in_three_reads_gives_the_same_events() {
    // 21. `.` `\r` `\n` arriving in three separate reads → same events as in one read.
    let whole = retr_in_pieces(Config::default(), &[b"+OK\r\nabc\r\n.\r\n"]);
    let split = retr_in_pieces(Config::default(), &[b"+OK\r\nabc\r\n", b".", b"\r", b"\n"]);
    assert_eq!(whole, split);
    let (retr, got) = whole;
    assert_eq!(got, one_chunk_body(retr, b"abc\r\n"));

    // Before the terminator is complete nothing is final.
    let mut client = logged_in(Config::default());
    let retr = exchange(
        &mut client,
        Command::Retr(n(1)),
        b"RETR 1\r\n",
        b"+OK\r\nabc\r\n",
    );
    events(&mut client);
    for b in [&b"."[..], b"\r"] {
        client.handle_input(b);
        assert_eq!(client.poll_event(), Ok(None));
    }
    client.handle_input(b"\n");
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::MultiEnd { handle: retr }))
    );

    // The same for a listing's terminator.
    let mut client = logged_in(Config::default());
    let list = exchange(
        &mut client,
        Command::List(None),
        b"LIST\r\n",
        b"+OK\r\n1 120\r\n",
    );
    assert_eq!(events(&mut client).len(), 2);
    for b in [&b"."[..], b"\r"] {
        client.handle_input(b);
        assert_eq!(client.poll_event(), Ok(None));
    }
    client.handle_input(b"\n");
    assert_eq!(events(&mut client), [Event::MultiEnd { handle: list }]);
}

#[test]
fn row_22_crlf_split_across_reads_gives_the_same_events() {
    // 22. `\r` at the end of one read and `\n` at the start of the next → same as unsplit.
    let wire: &[u8] = b"+OK 12 octets\r\nabc\r\n\r\n..d\r\n.\r\n";
    let whole = retr_in_pieces(Config::default(), &[wire]);
    // Split after every CR.
    let mut pieces: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for (i, b) in wire.iter().enumerate() {
        if *b == b'\r' {
            pieces.push(&wire[start..=i]);
            start = i + 1;
        }
    }
    pieces.push(&wire[start..]);
    assert!(pieces.len() > 4);
    let split = retr_in_pieces(Config::default(), &pieces);
    assert_eq!(whole, split);
    let (retr, events) = whole;
    assert_eq!(body_of(&events, retr), b"abc\r\n\r\n.d\r\n");

    // The same for a single-line reply.
    let mut client = logged_in(Config::default());
    let stat = exchange(&mut client, Command::Stat, b"STAT\r\n", b"+OK 2 320\r");
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_input(b"\n");
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::Stat {
            handle: stat,
            stat: Stat {
                count: 2,
                size: 320
            },
        }))
    );

    // And for a listing line.
    let mut client = logged_in(Config::default());
    let list = exchange(
        &mut client,
        Command::List(None),
        b"LIST\r\n",
        b"+OK\r\n1 120\r",
    );
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::MultiStart {
            handle: list,
            status: status(b"+OK"),
        }))
    );
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_input(b"\n.\r");
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::ListEntry {
            handle: list,
            entry: ScanListing {
                msg: n(1),
                size: 120
            },
        }))
    );
    assert_eq!(client.poll_event(), Ok(None));
    client.handle_input(b"\n");
    assert_eq!(
        client.poll_event(),
        Ok(Some(Event::MultiEnd { handle: list }))
    );
}

#[test]
fn row_23_eof_inside_a_body_is_truncated() {
    // 23. EOF (or TLS EOF without close_notify) inside a body → E `Truncated`; the body is never reported complete.
    for tail in [&b""[..], b".", b".\r", b"partial line"] {
        let mut client = logged_in(Config::default());
        let retr = exchange(
            &mut client,
            Command::Retr(n(1)),
            b"RETR 1\r\n",
            b"+OK\r\nline one\r\n",
        );
        client.handle_input(tail);
        client.handle_eof();
        let events = fatal(
            &mut client,
            RemoteError::Truncated {
                what: "a message body",
            },
        );
        assert!(!events.contains(&Event::MultiEnd { handle: retr }));
        assert!(body_of(&events, retr).starts_with(b"line one\r\n"));
    }

    // A listing cut short.
    let mut client = logged_in(Config::default());
    exchange(
        &mut client,
        Command::List(None),
        b"LIST\r\n",
        b"+OK\r\n1 120\r\n2 2",
    );
    client.handle_eof();
    fatal(&mut client, RemoteError::Truncated { what: "a listing" });

    // A status line cut short.
    let mut client = logged_in(Config::default());
    exchange(
        &mut client,
        Command::Retr(n(1)),
        b"RETR 1\r\n",
        b"+OK 120 oc",
    );
    client.handle_eof();
    fatal(&mut client, RemoteError::Truncated { what: "a reply" });
}

/// 10 MB of body bytes without a line end (no CR, LF or dot).
fn long_line(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn row_24_ten_megabyte_body_line_streams_in_bounded_memory() {
    // 24. A body line of 10 MB with no LF → streamed (bodies have no line limit) with bounded memory.
    const PIECE: usize = 64 * 1024;
    const TOTAL: usize = 10 * 1024 * 1024;
    const BOUND: usize = 2 * (PIECE + 512);
    let body = long_line(TOTAL);

    for use_read_space in [false, true] {
        let mut config = Config::default();
        config.read_size = PIECE;
        let mut client = logged_in(config);
        let retr = exchange(
            &mut client,
            Command::Retr(n(1)),
            b"RETR 1\r\n",
            b"+OK 10485762 octets\r\n",
        );
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::MultiStart {
                handle: retr,
                status: status(b"+OK 10485762 octets"),
            }))
        );
        let mut delivered = 0;
        let mut max_capacity = 0;
        let feed = |client: &mut Client, piece: &[u8]| {
            if use_read_space {
                let space = client.read_space();
                space[..piece.len()].copy_from_slice(piece);
                client.commit_read(piece.len()).unwrap();
            } else {
                client.handle_input(piece);
            }
        };
        for piece in body.chunks(PIECE) {
            feed(&mut client, piece);
            loop {
                match client.poll_event() {
                    Ok(Some(Event::BodyChunk { handle, data })) => {
                        assert_eq!(handle, retr);
                        assert_eq!(&data[..], &body[delivered..delivered + data.len()]);
                        delivered += data.len();
                        // `data` is dropped here, as a consumer that writes it out would.
                    }
                    Ok(None) => break,
                    other => panic!("{other:?}"),
                }
            }
            max_capacity = max_capacity.max(client.receive_buffer_capacity());
            assert!(
                client.receive_buffer_capacity() <= BOUND,
                "receive buffer grew to {} bytes after {delivered} bytes",
                client.receive_buffer_capacity()
            );
        }
        assert_eq!(delivered, TOTAL);
        feed(&mut client, b"\r\n.\r\n");
        let events = events(&mut client);
        assert_eq!(body_of(&events, retr), b"\r\n");
        assert_eq!(events.last(), Some(&Event::MultiEnd { handle: retr }));
        assert!(max_capacity <= BOUND);
    }
}

#[test]
fn row_25_endless_body_streams_endless_listings_hit_their_limit() {
    // 25. A multi-line response that never ends → streams forever for bodies (caller decides); listing/CAPA responses → E at their line-count limit.
    // A body: 4 MB of lines and no terminator, still streaming, never an error.
    let mut client = logged_in(Config::default());
    let retr = exchange(&mut client, Command::Retr(n(1)), b"RETR 1\r\n", b"+OK\r\n");
    events(&mut client);
    let read: Vec<u8> = b"this body never ends\r\n".repeat(16 * 1024 / 22);
    let mut delivered = 0;
    for _ in 0..(4 * 1024 * 1024 / read.len()) {
        client.handle_input(&read);
        for event in events(&mut client) {
            match event {
                Event::BodyChunk { handle, data } => {
                    assert_eq!(handle, retr);
                    delivered += data.len();
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(client.receive_buffer_capacity() <= 2 * (64 * 1024 + 512));
    }
    assert_eq!(delivered % read.len(), 0);
    assert!(delivered >= 4 * 1024 * 1024 - read.len());
    assert_eq!(client.in_flight(), 1);
    assert_eq!(client.error(), None);

    // CAPA: the default limit is 256 lines.
    let mut client = greeted(Config::default());
    let mut wire = b"+OK\r\n".to_vec();
    for i in 0..300 {
        wire.extend_from_slice(format!("X-CAP-{i}\r\n").as_bytes());
    }
    exchange(&mut client, Command::Capa, b"CAPA\r\n", &wire);
    let events = fatal(
        &mut client,
        RemoteError::TooManyLines {
            what: "CAPA",
            limit: 256,
        },
    );
    let entries = events
        .iter()
        .filter(|e| matches!(e, Event::CapaEntry { .. }))
        .count();
    assert_eq!(entries, 256);
    assert!(client.capabilities().is_none());

    // LIST and UIDL: the configured limit, streamed line by line.
    for (command, wire, what) in [
        (Command::List(None), &b"LIST\r\n"[..], "LIST"),
        (Command::Uidl(None), b"UIDL\r\n", "UIDL"),
    ] {
        let mut config = Config::default();
        config.max_listing_entries = 1000;
        let mut client = logged_in(config);
        exchange(&mut client, command, wire, b"+OK\r\n");
        let expected = RemoteError::TooManyLines { what, limit: 1000 };
        let mut entries = 0;
        for i in 1..=1500u32 {
            let line = if what == "LIST" {
                format!("{i} {}\r\n", u64::from(i) * 10)
            } else {
                format!("{i} uid-{i}\r\n")
            };
            client.handle_input(line.as_bytes());
            let (events, error) = drain(&mut client);
            entries += events
                .iter()
                .filter(|e| matches!(e, Event::ListEntry { .. } | Event::UidlEntry { .. }))
                .count();
            if let Some(error) = error {
                assert_eq!(i, 1001);
                assert_eq!(error, Error::Remote(expected.clone()));
                break;
            }
        }
        assert_eq!(entries, 1000);
        assert_sticky(&mut client, &expected);
    }
}

#[test]
fn row_26_nul_8bit_and_invalid_utf8_in_a_body_are_delivered_exactly() {
    // 26. NUL, 8-bit and invalid UTF-8 in a body → delivered byte-exact.
    let body: &[u8] = b"\0\0a\0b\xff\xfe\xc3(\x80\r\n\xe2\x82\r\n\x1b[2J\x07\r\n\0.\r\n";
    let mut wire = b"+OK\r\n".to_vec();
    wire.extend_from_slice(body);
    wire.extend_from_slice(b".\r\n");
    let (retr, events) = retr_in_pieces(Config::default(), &[&wire]);
    assert_eq!(body_of(&events, retr), body);
    assert_eq!(events.last(), Some(&Event::MultiEnd { handle: retr }));

    // Byte by byte, the same bytes.
    let pieces: Vec<&[u8]> = wire.chunks(1).collect();
    let (_, split) = retr_in_pieces(Config::default(), &pieces);
    assert_eq!(split, events);
}

#[test]
fn row_27_announced_size_is_never_trusted() {
    // 27. The size in `+OK 1000 octets` is wrong (smaller or absurdly large) → never used to preallocate; a mismatch may be reported, never trusted.
    for announced in [
        &b"+OK 18446744073709551615 octets"[..],
        b"+OK 99999999999999999999999 octets",
        b"+OK 1000000000 octets",
        b"+OK 2 octets",
    ] {
        let mut client = logged_in(Config::default());
        let mut wire = announced.to_vec();
        wire.extend_from_slice(b"\r\n");
        let retr = exchange(&mut client, Command::Retr(n(1)), b"RETR 1\r\n", &wire);
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::MultiStart {
                handle: retr,
                status: status(announced),
            }))
        );
        assert!(
            client.receive_buffer_capacity() < 64 * 1024,
            "{} bytes reserved after {:?}",
            client.receive_buffer_capacity(),
            String::from_utf8_lossy(announced)
        );
        let body: Vec<u8> = b"The real body is this long.\r\n".repeat(10);
        client.handle_input(&body);
        client.handle_input(b".\r\n");
        let events = events(&mut client);
        assert_eq!(body_of(&events, retr), body);
        assert_eq!(events.last(), Some(&Event::MultiEnd { handle: retr }));
        assert!(client.receive_buffer_capacity() < 64 * 1024);
    }
}

// ----- listings --------------------------------------------------------------------------

/// A fresh logged-in client that sends `command` and gets `reply`.
fn reply_to(command: Command, reply: &[u8]) -> (Client, Handle) {
    reply_to_with(Config::default(), command, reply)
}

fn reply_to_with(config: Config, command: Command, reply: &[u8]) -> (Client, Handle) {
    let mut client = logged_in(config);
    let handle = client.send(command).unwrap();
    assert!(!transmit(&mut client).is_empty());
    client.handle_input(reply);
    (client, handle)
}

/// A multi-line listing of the one line `line`.
fn listing_of(line: &[u8]) -> Vec<u8> {
    [&b"+OK\r\n"[..], line, b"\r\n.\r\n"].concat()
}

/// `+OK line`: a single-message listing.
fn single_line_reply(line: &[u8]) -> Vec<u8> {
    [&b"+OK "[..], line, b"\r\n"].concat()
}

/// The `BadListing` error for `line` (errors quote at most the first 64 bytes of it).
fn bad_listing(what: &'static str, line: &[u8], problem: ListingError) -> RemoteError {
    RemoteError::BadListing {
        what,
        line: text(&line[..line.len().min(64)]),
        problem,
    }
}

#[test]
fn row_28_stat_without_size_or_non_numeric_is_fatal() {
    // 28. STAT `+OK 2` (no size) or `+OK a b` → E; trailing text after the size → accepted.
    let cases: [(&[u8], &[u8], ListingError); 5] = [
        (b"+OK 2\r\n", b"2", ListingError::MissingField),
        (b"+OK a b\r\n", b"a b", ListingError::NotANumber),
        (b"+OK\r\n", b"", ListingError::MissingField),
        (b"+OK 2 b\r\n", b"2 b", ListingError::NotANumber),
        (b"+OK 2 320x\r\n", b"2 320x", ListingError::NotANumber),
    ];
    for (reply, line, problem) in cases {
        let (mut client, _) = reply_to(Command::Stat, reply);
        fatal(&mut client, bad_listing("STAT", line, problem));
    }

    let (mut client, stat) = reply_to(Command::Stat, b"+OK 2 320 messages, 320 octets\r\n");
    assert_eq!(
        events(&mut client),
        [Event::Stat {
            handle: stat,
            stat: Stat {
                count: 2,
                size: 320
            },
        }]
    );
}

#[test]
fn row_29_bad_message_numbers_in_listings_are_fatal() {
    // 29. LIST/UIDL line with a non-numeric field, message number 0, negative, or over u32 → E.
    let list_cases: [(&[u8], ListingError); 6] = [
        (b"x 120", ListingError::NotANumber),
        (b"1 abc", ListingError::NotANumber),
        (b"0 120", ListingError::BadMessageNumber),
        (b"-1 120", ListingError::NotANumber),
        (b"1 -120", ListingError::NotANumber),
        (b"4294967296 120", ListingError::BadMessageNumber),
    ];
    for (line, problem) in list_cases {
        let (mut client, _) = reply_to(Command::List(None), &listing_of(line));
        fatal(&mut client, bad_listing("LIST", line, problem));

        // The single-message form, `LIST 1`.
        let (mut client, _) = reply_to(Command::List(Some(n(1))), &single_line_reply(line));
        fatal(&mut client, bad_listing("LIST", line, problem));
    }

    let uidl_cases: [(&[u8], ListingError); 4] = [
        (b"x abc", ListingError::NotANumber),
        (b"0 abc", ListingError::BadMessageNumber),
        (b"-1 abc", ListingError::NotANumber),
        (b"99999999999 abc", ListingError::BadMessageNumber),
    ];
    for (line, problem) in uidl_cases {
        let mut wire = b"+OK\r\n1 first\r\n".to_vec();
        wire.extend_from_slice(line);
        wire.extend_from_slice(b"\r\n.\r\n");
        let (mut client, uidl) = reply_to(Command::Uidl(None), &wire);
        let events = fatal(&mut client, bad_listing("UIDL", line, problem));
        assert_eq!(
            events,
            [
                Event::MultiStart {
                    handle: uidl,
                    status: status(b"+OK"),
                },
                Event::UidlEntry {
                    handle: uidl,
                    msg: n(1),
                    uid: Uid::new(b"first", 70).unwrap(),
                },
            ]
        );
    }

    // The largest message number is fine.
    let (mut client, list) = reply_to(Command::List(None), b"+OK\r\n4294967295 1\r\n.\r\n");
    assert!(events(&mut client).contains(&Event::ListEntry {
        handle: list,
        entry: ScanListing {
            msg: n(u32::MAX),
            size: 1
        },
    }));
}

#[test]
fn row_30_size_overflowing_u64_is_fatal() {
    // 30. Size that overflows u64 → E (checked parse, no wrap).
    let (mut client, _) = reply_to(
        Command::List(None),
        b"+OK\r\n1 18446744073709551616\r\n.\r\n",
    );
    fatal(
        &mut client,
        bad_listing("LIST", b"1 18446744073709551616", ListingError::Overflow),
    );
    let (mut client, _) = reply_to(
        Command::List(Some(n(1))),
        b"+OK 1 99999999999999999999999999\r\n",
    );
    fatal(
        &mut client,
        bad_listing(
            "LIST",
            b"1 99999999999999999999999999",
            ListingError::Overflow,
        ),
    );
    let (mut client, _) = reply_to(Command::Stat, b"+OK 1 18446744073709551616\r\n");
    fatal(
        &mut client,
        bad_listing("STAT", b"1 18446744073709551616", ListingError::Overflow),
    );
    let (mut client, _) = reply_to(Command::Stat, b"+OK 4294967296 0\r\n");
    fatal(
        &mut client,
        bad_listing("STAT", b"4294967296 0", ListingError::Overflow),
    );

    // u64::MAX itself fits.
    let (mut client, list) = reply_to(Command::List(Some(n(1))), b"+OK 1 18446744073709551615\r\n");
    assert_eq!(
        events(&mut client),
        [Event::ListOne {
            handle: list,
            entry: ScanListing {
                msg: n(1),
                size: u64::MAX
            },
        }]
    );
}

#[test]
fn row_31_duplicate_or_descending_message_numbers_are_fatal() {
    // 31. Duplicate or descending message numbers in a listing → E (or P, reported).
    let cases: [(&[u8], u32, u32); 2] = [(b"1 10\r\n1 20\r\n", 1, 1), (b"3 10\r\n2 20\r\n", 3, 2)];
    for (lines, previous, got) in cases {
        let mut wire = b"+OK\r\n".to_vec();
        wire.extend_from_slice(lines);
        wire.extend_from_slice(b".\r\n");
        let (mut client, list) = reply_to(Command::List(None), &wire);
        let events = fatal(
            &mut client,
            RemoteError::ListingOutOfOrder {
                what: "LIST",
                previous,
                got,
            },
        );
        assert_eq!(events.len(), 2);
        assert_eq!(
            events[1],
            Event::ListEntry {
                handle: list,
                entry: ScanListing {
                    msg: n(previous),
                    size: 10
                },
            }
        );
    }

    let (mut client, _) = reply_to(Command::Uidl(None), b"+OK\r\n1 a\r\n2 b\r\n2 c\r\n.\r\n");
    fatal(
        &mut client,
        RemoteError::ListingOutOfOrder {
            what: "UIDL",
            previous: 2,
            got: 2,
        },
    );
    let (mut client, _) = reply_to(Command::Uidl(None), b"+OK\r\n5 a\r\n4 b\r\n.\r\n");
    fatal(
        &mut client,
        RemoteError::ListingOutOfOrder {
            what: "UIDL",
            previous: 5,
            got: 4,
        },
    );

    // Gaps (deleted messages) are fine.
    let (mut client, _) = reply_to(Command::List(None), b"+OK\r\n1 10\r\n3 30\r\n.\r\n");
    assert_eq!(events(&mut client).len(), 4);
}

#[test]
fn row_32_single_listing_for_another_message_is_fatal() {
    // 32. `LIST 3` answered with `+OK 4 120` → E.
    let (mut client, _) = reply_to(Command::List(Some(n(3))), b"+OK 4 120\r\n");
    fatal(
        &mut client,
        RemoteError::WrongMessage {
            what: "LIST",
            asked: 3,
            got: 4,
        },
    );
    let (mut client, _) = reply_to(Command::Uidl(Some(n(3))), b"+OK 4 QhdPYR:00WBw1Ph7x7\r\n");
    fatal(
        &mut client,
        RemoteError::WrongMessage {
            what: "UIDL",
            asked: 3,
            got: 4,
        },
    );
    // The right one is accepted.
    let (mut client, list) = reply_to(Command::List(Some(n(3))), b"+OK 3 120\r\n");
    assert_eq!(
        events(&mut client),
        [Event::ListOne {
            handle: list,
            entry: ScanListing {
                msg: n(3),
                size: 120
            },
        }]
    );
}

#[test]
fn row_33_separators_other_than_one_space_are_fatal_when_strict() {
    // 33. Separators other than one space (two spaces, TAB) → E strict, P lenient.
    let list_cases: [&[u8]; 4] = [b"1  120", b"1\t120", b"1 120\tfoo", b"1 \t120"];
    for line in list_cases {
        let (mut client, _) = reply_to(Command::List(None), &listing_of(line));
        fatal(
            &mut client,
            bad_listing("LIST", line, ListingError::BadSeparator),
        );
    }
    for line in [&b"1  abc"[..], b"1\tabc"] {
        let (mut client, _) = reply_to(Command::Uidl(None), &listing_of(line));
        fatal(
            &mut client,
            bad_listing("UIDL", line, ListingError::BadSeparator),
        );
    }
    let (mut client, _) = reply_to(Command::Stat, b"+OK 2  320\r\n");
    fatal(
        &mut client,
        bad_listing("STAT", b"2  320", ListingError::BadSeparator),
    );
    let (mut client, _) = reply_to(Command::Stat, b"+OK 2\t320\r\n");
    fatal(
        &mut client,
        bad_listing("STAT", b"2\t320", ListingError::BadSeparator),
    );
    let (mut client, _) = reply_to(Command::Stat, b"+OK\t2 320\r\n");
    fatal(
        &mut client,
        RemoteError::BadStatusLine {
            command: "STAT",
            line: text(b"+OK\t2 320"),
        },
    );
}

#[test]
fn row_33_loose_separators_option_accepts_runs_and_tabs() {
    // 33. Separators other than one space (two spaces, TAB) → E strict, P lenient.
    // Leniency::loose_separators is documented to accept runs of spaces and TABs between
    // fields of STAT and listings, and a TAB after the status indicator.
    let mut config = Config::default();
    config.lenient.loose_separators = true;

    let (mut client, list) = reply_to_with(
        config.clone(),
        Command::List(None),
        b"+OK\r\n1  120\r\n2\t200\r\n3 \t 300 \r\n.\r\n",
    );
    let sizes: Vec<(u32, u64)> = events(&mut client)
        .into_iter()
        .filter_map(|e| match e {
            Event::ListEntry { handle, entry } if handle == list => {
                Some((entry.msg.get(), entry.size))
            }
            _ => None,
        })
        .collect();
    assert_eq!(sizes, [(1, 120), (2, 200), (3, 300)]);

    let (mut client, uidl) = reply_to_with(
        config.clone(),
        Command::Uidl(None),
        b"+OK\r\n1\tabc\r\n.\r\n",
    );
    assert!(events(&mut client).contains(&Event::UidlEntry {
        handle: uidl,
        msg: n(1),
        uid: Uid::new(b"abc", 70).unwrap(),
    }));

    let (mut client, stat) = reply_to_with(config.clone(), Command::Stat, b"+OK 2\t\t320\r\n");
    assert_eq!(
        events(&mut client),
        [Event::Stat {
            handle: stat,
            stat: Stat {
                count: 2,
                size: 320
            },
        }]
    );

    // A TAB after the status indicator.
    let (mut client, stat) = reply_to_with(config, Command::Stat, b"+OK\t2 320\r\n");
    assert_eq!(
        drain(&mut client),
        (
            vec![Event::Stat {
                handle: stat,
                stat: Stat {
                    count: 2,
                    size: 320
                },
            }],
            None
        )
    );
}

#[test]
fn row_34_bad_unique_ids_are_fatal() {
    // 34. Unique-id of 71+ octets, empty, with a space, control or 8-bit byte → E (length cap P).
    let long71 = [b"1 ".as_slice(), &[b'a'; 71]].concat();
    let cases: [(&[u8], ListingError); 8] = [
        (&long71, ListingError::UidTooLong),
        (b"1 ", ListingError::EmptyUid),
        (b"1", ListingError::EmptyUid),
        (b"1 a b", ListingError::BadUidByte),
        (b"1 a\x01b", ListingError::BadUidByte),
        (b"1 a\tb", ListingError::BadUidByte),
        (b"1 a\x7f", ListingError::BadUidByte),
        (b"1 \xc3\xa9t\xc3\xa9", ListingError::BadUidByte),
    ];
    for (line, problem) in cases {
        let (mut client, _) = reply_to(Command::Uidl(None), &listing_of(line));
        fatal(&mut client, bad_listing("UIDL", line, problem));

        let (mut client, _) = reply_to(Command::Uidl(Some(n(1))), &single_line_reply(line));
        fatal(&mut client, bad_listing("UIDL", line, problem));
    }

    // 70 octets is the default cap; the cap is configurable (P).
    let long70 = [b"+OK\r\n1 ".as_slice(), &[b'a'; 70], b"\r\n.\r\n"].concat();
    let (mut client, uidl) = reply_to(Command::Uidl(None), &long70);
    assert!(events(&mut client).contains(&Event::UidlEntry {
        handle: uidl,
        msg: n(1),
        uid: Uid::new(&[b'a'; 70], 70).unwrap(),
    }));
    let mut config = Config::default();
    config.max_uid_length = 100;
    let wire = [b"+OK\r\n".as_slice(), &long71, b"\r\n.\r\n"].concat();
    let (mut client, uidl) = reply_to_with(config, Command::Uidl(None), &wire);
    assert!(events(&mut client).contains(&Event::UidlEntry {
        handle: uidl,
        msg: n(1),
        uid: Uid::new(&[b'a'; 71], 100).unwrap(),
    }));
}

// ----- CAPA ------------------------------------------------------------------------------

#[test]
fn row_35_huge_capa_responses_fail_at_the_configured_limits() {
    // 35. Thousands of CAPA lines / one 10 kB line → E at the configured limits.
    let mut client = greeted(Config::default());
    let mut wire = b"+OK\r\n".to_vec();
    for _ in 0..5000 {
        wire.extend_from_slice(b"TOP\r\n");
    }
    exchange(&mut client, Command::Capa, b"CAPA\r\n", &wire);
    let events = fatal(
        &mut client,
        RemoteError::TooManyLines {
            what: "CAPA",
            limit: 256,
        },
    );
    assert_eq!(events.len(), 1 + 256);

    let mut client = greeted(Config::default());
    let mut wire = b"+OK\r\nIMPLEMENTATION ".to_vec();
    wire.resize(10_000, b'z');
    wire.extend_from_slice(b"\r\n.\r\n");
    exchange(&mut client, Command::Capa, b"CAPA\r\n", &wire);
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 512 },
            waiting_for: "reading a listing",
        },
    );

    // The configured limits.
    let mut config = Config::default();
    config.max_capa_lines = 3;
    let mut client = greeted(config);
    exchange(
        &mut client,
        Command::Capa,
        b"CAPA\r\n",
        b"+OK\r\nTOP\r\nUSER\r\nUIDL\r\nSTLS\r\n.\r\n",
    );
    let events = fatal(
        &mut client,
        RemoteError::TooManyLines {
            what: "CAPA",
            limit: 3,
        },
    );
    assert_eq!(events.len(), 4);
    let mut config = Config::default();
    config.max_line_length = 100;
    let mut client = greeted(config);
    let mut wire = b"+OK\r\n".to_vec();
    wire.resize(5 + 100, b'Z');
    exchange(&mut client, Command::Capa, b"CAPA\r\n", &wire);
    fatal(
        &mut client,
        RemoteError::BadLine {
            problem: LineError::TooLong { limit: 100 },
            waiting_for: "reading a listing",
        },
    );
}

#[test]
fn row_36_odd_capabilities_are_tolerated() {
    // 36. Unknown tags, unknown SASL mechanisms, `LOGIN-DELAY abc`, `EXPIRE -1`, duplicates → tolerated; unknown kept as raw; bad values ignored, never a panic.
    let mut client = greeted(Config::default());
    let capa = exchange(
        &mut client,
        Command::Capa,
        b"CAPA\r\n",
        b"+OK Capability list follows\r\n\
          X-UNKNOWN foo bar\r\n\
          SASL PLAIN x-made-up\r\n\
          LOGIN-DELAY abc\r\n\
          EXPIRE -1\r\n\
          TOP\r\n\
          TOP\r\n\
          SASL plain\r\n\
          LOGIN-DELAY 99999999999\r\n\
          LOGIN-DELAY 900\r\n\
          \r\n\
          .\r\n",
    );
    let capabilities: Vec<Capability> = events(&mut client)
        .into_iter()
        .filter_map(|e| match e {
            Event::CapaEntry { handle, capability } if handle == capa => Some(capability),
            _ => None,
        })
        .collect();
    assert_eq!(
        capabilities,
        [
            Capability::Other(text(b"X-UNKNOWN foo bar")),
            Capability::Sasl(vec![text(b"PLAIN"), text(b"X-MADE-UP")]),
            Capability::Other(text(b"LOGIN-DELAY abc")),
            Capability::Other(text(b"EXPIRE -1")),
            Capability::Top,
            Capability::Top,
            Capability::Sasl(vec![text(b"PLAIN")]),
            Capability::Other(text(b"LOGIN-DELAY 99999999999")),
            Capability::LoginDelay {
                seconds: 900,
                per_user: false
            },
            Capability::Other(text(b"")),
        ]
    );
    let mut expected = Capabilities::default();
    expected.top = true;
    expected.sasl = vec![text(b"PLAIN"), text(b"X-MADE-UP")];
    expected.login_delay = Some((900, false));
    expected.expire = None;
    expected.other = vec![
        text(b"X-UNKNOWN foo bar"),
        text(b"LOGIN-DELAY abc"),
        text(b"EXPIRE -1"),
        text(b"LOGIN-DELAY 99999999999"),
        text(b""),
    ];
    assert_eq!(client.capabilities(), Some(&expected));
    assert!(client.capabilities().unwrap().has_sasl(b"x-made-up"));
}

// ----- STLS / TLS ------------------------------------------------------------------------

#[test]
fn row_37_bytes_after_stls_ok_are_fatal() {
    // 37. Bytes after STLS `+OK` — whole lines, a partial line, or binary → E `DataAfterStls`.
    // In the same read as the +OK.
    for extra in [
        &b"+OK injected\r\n-ERR more\r\n"[..],
        b"+OK inj",
        b"\x16\x03\x03\x00\x02\x02\x28",
        b"\r",
    ] {
        let mut client = greeted(Config::default());
        let mut wire = b"+OK begin TLS negotiation\r\n".to_vec();
        wire.extend_from_slice(extra);
        exchange(&mut client, Command::Stls, b"STLS\r\n", &wire);
        let events = fatal(
            &mut client,
            RemoteError::DataAfterStls { data: text(extra) },
        );
        assert!(events.is_empty());
        assert!(!client.is_tls());
    }

    // In a later read, before the handshake finished.
    for extra in [&b"+OK injected\r\n"[..], b"+", b"\x00\xff\xfe"] {
        let mut client = greeted(Config::default());
        let stls = exchange(
            &mut client,
            Command::Stls,
            b"STLS\r\n",
            b"+OK begin TLS negotiation\r\n",
        );
        assert_eq!(
            client.poll_event(),
            Ok(Some(Event::UpgradeToTls { handle: stls }))
        );
        assert_eq!(client.state(), SessionState::TlsHandshake);
        assert_eq!(transmit(&mut client), b"");
        client.handle_input(extra);
        fatal(
            &mut client,
            RemoteError::DataAfterStls { data: text(extra) },
        );
    }
}

#[test]
fn row_39_only_post_tls_capabilities_are_used() {
    // 39. Capabilities that differ after TLS → only the post-TLS ones are used.
    let mut client = greeted_with(
        Config::default(),
        b"+OK POP3 ready <1896.697170952@dbc.mtview.ca.us>\r\n",
    );
    exchange(
        &mut client,
        Command::Capa,
        b"CAPA\r\n",
        b"+OK\r\nSTLS\r\nPIPELINING\r\nSASL PLAIN\r\nX-PLAINTEXT\r\n.\r\n",
    );
    events(&mut client);
    let pre = client.capabilities().unwrap().clone();
    assert!(pre.pipelining && pre.stls && pre.has_sasl(b"PLAIN"));

    let stls = exchange(
        &mut client,
        Command::Stls,
        b"STLS\r\n",
        b"+OK begin TLS\r\n",
    );
    assert_eq!(events(&mut client), [Event::UpgradeToTls { handle: stls }]);
    client.tls_established().unwrap();
    assert!(client.is_tls());
    assert_eq!(client.capabilities(), None);
    assert_eq!(client.greeting(), None);
    // The plaintext timestamp is forgotten with the greeting.
    assert_eq!(
        client.apop(
            UserName::new("mrose").unwrap(),
            &Password::new("tanstaaf").unwrap()
        ),
        Err(Error::Local(LocalError::NoApopTimestamp))
    );
    // No pipelining from the plaintext CAPA: one command at a time.
    client.send(Command::Capa).unwrap();
    client.send(Command::Capa).unwrap();
    assert_eq!(transmit(&mut client), b"CAPA\r\n");
    client.handle_input(b"+OK\r\nUSER\r\nSASL SCRAM-SHA-256\r\n.\r\n");
    events(&mut client);
    let mut expected = Capabilities::default();
    expected.user = true;
    expected.sasl = vec![text(b"SCRAM-SHA-256")];
    assert_eq!(client.capabilities(), Some(&expected));
    // Still one at a time: the post-TLS capabilities have no PIPELINING.
    assert_eq!(transmit(&mut client), b"CAPA\r\n");
    client.send(Command::Capa).unwrap();
    assert_eq!(transmit(&mut client), b"");
}

#[test]
fn row_40_second_stls_or_stls_over_tls_is_a_local_error() {
    // 40. A second STLS (or STLS on an implicit-TLS connection) → LocalError, nothing sent.
    let mut config = Config::default();
    config.implicit_tls = true;
    let mut client = greeted(config);
    assert_eq!(
        client.send(Command::Stls),
        Err(Error::Local(LocalError::TlsAlreadyActive {
            reason: "the connection already uses TLS",
        }))
    );
    assert_eq!(transmit(&mut client), b"");
    // Still usable.
    client.send(Command::Capa).unwrap();
    assert_eq!(transmit(&mut client), b"CAPA\r\n");

    // STLS while STLS waits for its reply.
    let mut client = greeted(Config::default());
    client.send(Command::Stls).unwrap();
    assert_eq!(
        client.send(Command::Stls),
        Err(Error::Local(LocalError::AwaitingReply { command: "STLS" }))
    );
    assert_eq!(transmit(&mut client), b"STLS\r\n");
    assert_eq!(transmit(&mut client), b"");

    // STLS during the handshake.
    client.handle_input(b"+OK\r\n");
    assert!(matches!(
        client.poll_event(),
        Ok(Some(Event::UpgradeToTls { .. }))
    ));
    assert_eq!(
        client.send(Command::Stls),
        Err(Error::Local(LocalError::TlsAlreadyActive {
            reason: "STLS was already sent on this connection",
        }))
    );
    // STLS after the handshake.
    client.tls_established().unwrap();
    assert_eq!(
        client.send(Command::Stls),
        Err(Error::Local(LocalError::TlsAlreadyActive {
            reason: "the connection already uses TLS",
        }))
    );
    assert_eq!(transmit(&mut client), b"");
    assert_eq!(client.error(), None);
}

// ----- authentication --------------------------------------------------------------------

#[test]
fn row_41_malformed_sasl_challenges_are_cancelled_then_fatal() {
    // 41. SASL challenge that is not valid base64, only padding, `+` without a space, or oversized → cancel with `*`, then E.
    let oversized = [b"+ ".as_slice(), &[b'A'; 9000], b"\r\n"].concat();
    let cases: [(&[u8], &'static str); 6] = [
        (
            b"+ !!not base64!!\r\n",
            "a challenge that is not valid base64",
        ),
        (b"+ ====\r\n", "a challenge that is not valid base64"),
        (b"+ =\r\n", "a challenge that is not valid base64"),
        (b"+\r\n", "a continuation line without the space after '+'"),
        (
            b"+challenge\r\n",
            "a continuation line without the space after '+'",
        ),
        (
            &oversized,
            "the server's challenge is longer than Config::max_sasl_line_length",
        ),
    ];
    for (challenge, reason) in cases {
        for final_reply in [
            &b"-ERR authentication cancelled\r\n"[..],
            b"+OK welcome\r\n",
        ] {
            let (mut client, _) = in_sasl(Config::default(), TestMech::new("X-TEST"));
            client.handle_input(challenge);
            // The exchange is cancelled, the error comes once the server has answered.
            assert_eq!(client.poll_event(), Ok(None));
            assert_eq!(transmit(&mut client), b"*\r\n");
            assert_eq!(client.poll_event(), Ok(None));
            client.handle_input(final_reply);
            fatal(&mut client, RemoteError::SaslAborted { reason });
            assert_ne!(client.state(), SessionState::Transaction);
        }
    }

    // The oversized challenge in pieces: memory stays bounded while it is skipped.
    let (mut client, _) = in_sasl(Config::default(), TestMech::new("X-TEST"));
    client.handle_input(b"+ ");
    for _ in 0..100 {
        client.handle_input(&[b'A'; 10_000]);
        assert_eq!(client.poll_event(), Ok(None));
        assert!(client.receive_buffer_capacity() <= 64 * 1024);
    }
    client.handle_input(b"AAAA\r\n");
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(transmit(&mut client), b"*\r\n");
    client.handle_input(b"-ERR\r\n");
    fatal(
        &mut client,
        RemoteError::SaslAborted {
            reason: "the server's challenge is longer than Config::max_sasl_line_length",
        },
    );
}

#[test]
fn row_42_endless_challenges_are_cancelled_at_the_round_limit() {
    // 42. Challenges that never end → cancel after the round limit, then E.
    let (mut client, _) = in_sasl(Config::default(), TestMech::new("X-TEST"));
    for round in 1..=8 {
        client.handle_input(b"+ bW9yZQ==\r\n");
        assert_eq!(client.poll_event(), Ok(None), "round {round}");
        assert_eq!(transmit(&mut client), b"cmVzcA==\r\n", "round {round}");
    }
    client.handle_input(b"+ bW9yZQ==\r\n");
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(transmit(&mut client), b"*\r\n");
    client.handle_input(b"-ERR cancelled\r\n");
    fatal(
        &mut client,
        RemoteError::SaslAborted {
            reason: "too many challenges (Config::max_sasl_rounds)",
        },
    );

    // The configured limit.
    let mut config = Config::default();
    config.max_sasl_rounds = 2;
    let (mut client, _) = in_sasl(config, TestMech::new("X-TEST"));
    for _ in 0..2 {
        client.handle_input(b"+ \r\n");
        assert_eq!(client.poll_event(), Ok(None));
        assert_eq!(transmit(&mut client), b"cmVzcA==\r\n");
    }
    client.handle_input(b"+ \r\n");
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(transmit(&mut client), b"*\r\n");
    // A server that ignores the cancellation and keeps challenging.
    client.handle_input(b"+ \r\n");
    fatal(
        &mut client,
        RemoteError::SaslAborted {
            reason: "the server sent another challenge after we cancelled",
        },
    );
}

#[test]
fn row_43_ok_before_the_server_is_verified_is_fatal() {
    // 43. `+OK` before a mechanism that verifies the server (SCRAM) has verified it → E.
    let mut scram = TestMech::new("X-TEST");
    scram.verdict = Err(SaslError::ServerNotVerified);
    let (mut client, _) = in_sasl(Config::default(), scram);
    client.handle_input(b"+ cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n");
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(transmit(&mut client), b"cmVzcA==\r\n");
    // The server skips its proof (server-final-message) and just says +OK.
    client.handle_input(b"+OK logged in\r\n");
    fatal(&mut client, RemoteError::Sasl(SaslError::ServerNotVerified));
    assert_ne!(client.state(), SessionState::Transaction);

    // +OK straight to AUTH, without any challenge.
    let mut scram = TestMech::new("X-TEST");
    scram.verdict = Err(SaslError::ServerNotVerified);
    let (mut client, _) = in_sasl(Config::default(), scram);
    client.handle_input(b"+OK\r\n");
    fatal(&mut client, RemoteError::Sasl(SaslError::ServerNotVerified));
    assert_ne!(client.state(), SessionState::Transaction);
}

#[test]
fn row_44_malformed_apop_timestamps_refuse_apop() {
    // 44. APOP timestamp `<>`, without `@`, nested `<<`, non-ASCII, or 2 kB long → APOP refused (LocalError), nothing sent.
    let two_kb = [b"+OK ready <".as_slice(), &[b'1'; 2000], b"@host>\r\n"].concat();
    let max = [b"+OK ready <".as_slice(), &[b'1'; 248], b"@host>\r\n"].concat();
    let over = [b"+OK ready <".as_slice(), &[b'1'; 249], b"@host>\r\n"].concat();
    let cases: [&[u8]; 11] = [
        b"+OK ready <>\r\n",
        b"+OK ready <1896.697170952>\r\n",
        b"+OK ready <<1896.697170952@dbc.mtview.ca.us>>\r\n",
        b"+OK ready <1896.\xc3\xa9@dbc.mtview.ca.us>\r\n",
        b"+OK ready <1896@\xff>\r\n",
        b"+OK ready <@host>\r\n",
        b"+OK ready <a@>\r\n",
        b"+OK ready <a@b@c>\r\n",
        b"+OK ready <a b@c>\r\n",
        &two_kb,
        &over,
    ];
    let mut config = Config::default();
    config.max_line_length = 4096;
    for greeting in cases {
        let mut client = greeted_with(config.clone(), greeting);
        assert!(client.greeting().unwrap().apop_timestamp().is_none());
        assert_eq!(
            client.apop(
                UserName::new("mrose").unwrap(),
                &Password::new("tanstaaf").unwrap()
            ),
            Err(Error::Local(LocalError::NoApopTimestamp)),
            "{}",
            String::from_utf8_lossy(greeting)
        );
        assert_eq!(transmit(&mut client), b"");
        // Still usable.
        client
            .send(Command::User(UserName::new("mrose").unwrap()))
            .unwrap();
        assert_eq!(transmit(&mut client), b"USER mrose\r\n");
    }

    // A strict timestamp at the length cap still works, and RFC 1939's example gives its digest.
    let mut client = greeted_with(config.clone(), &max);
    client
        .apop(UserName::new("u").unwrap(), &Password::new("p").unwrap())
        .unwrap();
    assert!(transmit(&mut client).starts_with(b"APOP u "));
    let mut client = greeted_with(
        config,
        b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
    );
    client
        .apop(
            UserName::new("mrose").unwrap(),
            &Password::new("tanstaaf").unwrap(),
        )
        .unwrap();
    assert_eq!(
        transmit(&mut client),
        b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"
    );
}

// ----- outgoing arguments ----------------------------------------------------------------

#[test]
fn row_45_line_breaks_and_nul_in_arguments_never_reach_the_wire() {
    // 45. CR, LF or NUL in USER, PASS, APOP name, mechanism, or a SASL value → LocalError before any byte is written.
    // Argument types refuse them on construction, so such a command cannot even be built.
    fn line_break<T>(what: &'static str) -> Result<T, ArgumentError> {
        Err(ArgumentError::LineBreak { what })
    }
    fn nul<T>(what: &'static str) -> Result<T, ArgumentError> {
        Err(ArgumentError::Nul { what })
    }
    for bad in ["mrose\r\nDELE 1", "mrose\n", "\rmrose"] {
        assert_eq!(UserName::new(bad), line_break("user name"));
        assert_eq!(Password::new(bad), line_break("password"));
        assert_eq!(MechanismName::new(bad), line_break("SASL mechanism name"));
        assert_eq!(RawLine::new(bad), line_break("raw command line"));
    }
    assert_eq!(UserName::new("mro\0se"), nul("user name"));
    assert_eq!(Password::new("sec\0ret"), nul("password"));
    assert_eq!(MechanismName::new("PL\0AIN"), nul("SASL mechanism name"));
    assert_eq!(
        Plain::new(None, "tim", "tan\0staaf").unwrap_err(),
        ArgumentError::Nul {
            what: "PLAIN password"
        }
    );
    assert_eq!(
        Plain::new(None, "t\0im", "x").unwrap_err(),
        ArgumentError::Nul {
            what: "PLAIN user name"
        }
    );
    assert_eq!(
        Plain::new(Some("ad\0min"), "tim", "x").unwrap_err(),
        ArgumentError::Nul {
            what: "PLAIN authorization id"
        }
    );

    // A SASL value (initial response and challenge response) with CR, LF and NUL goes out
    // base64-encoded: the only CR LF on the wire ends each line.
    let mut mech = TestMech::new("X-TEST");
    mech.initial = Some(b"a\r\nQUIT\0".to_vec());
    mech.response = b"\r\nDELE 1\r\n\0".to_vec();
    let mut client = greeted(Config::default());
    client.authenticate(Box::new(mech)).unwrap();
    assert_eq!(transmit(&mut client), b"AUTH X-TEST YQ0KUVVJVAA=\r\n");
    client.handle_input(b"+ \r\n");
    assert_eq!(client.poll_event(), Ok(None));
    assert_eq!(transmit(&mut client), b"DQpERUxFIDENCgA=\r\n");
}

#[test]
fn row_46_commands_over_255_octets_are_refused_locally() {
    // 46. A command over 255 octets → LocalError (or P for servers that advertise more).
    let mut client = greeted_with(
        Config::default(),
        b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
    );
    let user = exchange(
        &mut client,
        Command::User(UserName::new("mrose").unwrap()),
        b"USER mrose\r\n",
        b"+OK\r\n",
    );
    assert_eq!(
        events(&mut client),
        [Event::Status {
            handle: user,
            status: status(b"+OK"),
        }]
    );
    // PASS + 250 octets: 257 with CRLF.
    let long = "x".repeat(250);
    assert_eq!(
        client.send(Command::Pass(Password::new(&long).unwrap())),
        Err(Error::Local(LocalError::CommandTooLong {
            command: "PASS",
            length: 257,
            limit: 255,
        }))
    );
    // APOP with a 250-octet name: 5 + 250 + 1 + 32 + 2.
    assert_eq!(
        client.apop(UserName::new(&long).unwrap(), &Password::new("p").unwrap()),
        Err(Error::Local(LocalError::CommandTooLong {
            command: "APOP",
            length: 290,
            limit: 255,
        }))
    );
    // A raw command line of 254 octets: 256 with CRLF.
    assert_eq!(
        client.send(Command::Raw {
            line: RawLine::new("X".repeat(254)).unwrap(),
            multiline: false,
        }),
        Err(Error::Local(LocalError::CommandTooLong {
            command: "raw command",
            length: 256,
            limit: 255,
        }))
    );
    assert_eq!(transmit(&mut client), b"");
    assert_eq!(client.error(), None);
    // Exactly 255 is fine.
    let ok = "x".repeat(248);
    client
        .send(Command::Pass(Password::new(&ok).unwrap()))
        .unwrap();
    let wire = transmit(&mut client);
    assert_eq!(wire.len(), 255);

    // P: a larger configured limit.
    let mut config = Config::default();
    config.max_command_length = 512;
    let mut client = greeted(config);
    exchange(
        &mut client,
        Command::User(UserName::new("mrose").unwrap()),
        b"USER mrose\r\n",
        b"+OK\r\n",
    );
    events(&mut client);
    client
        .send(Command::Pass(Password::new(&long).unwrap()))
        .unwrap();
    assert_eq!(transmit(&mut client).len(), 257);
}

// ----- work and resources ----------------------------------------------------------------

/// Feeds `bytes` one byte per read, checking that no event comes before the last byte;
/// returns the event after it.
fn one_byte_per_read(client: &mut Client, bytes: &[u8]) -> Option<Event> {
    let (last, init) = bytes.split_last().unwrap();
    for (i, b) in init.iter().enumerate() {
        client.handle_input(&[*b]);
        assert_eq!(client.poll_event().unwrap(), None, "after {} bytes", i + 1);
    }
    client.handle_input(&[*last]);
    client.poll_event().unwrap()
}

#[test]
fn row_47_max_length_line_one_byte_per_read() {
    // 47. A maximum-length line fed one byte per read → linear total work, no rescanning.
    // (The work itself is not observable through the public API; this checks that the
    // incremental scan gives the same result as the whole line.)
    for len in [511, 512] {
        let line = line_of(b"+OK ", len);
        let mut whole = Client::new(Config::default());
        whole.handle_input(&line);
        let expected = whole.poll_event().unwrap();
        assert!(matches!(expected, Some(Event::Greeting(_))));

        let mut client = Client::new(Config::default());
        assert_eq!(one_byte_per_read(&mut client, &line), expected);

        // A STAT reply of the same length.
        let reply = line_of(b"+OK 2 320 ", len);
        let mut client = logged_in(Config::default());
        let stat = client.send(Command::Stat).unwrap();
        assert_eq!(transmit(&mut client), b"STAT\r\n");
        assert_eq!(
            one_byte_per_read(&mut client, &reply),
            Some(Event::Stat {
                handle: stat,
                stat: Stat {
                    count: 2,
                    size: 320
                },
            })
        );

        // A listing line of the same length, inside LIST.
        let mut entry = line_of(b"1 120 ", len);
        entry.extend_from_slice(b".\r\n");
        let mut client = logged_in(Config::default());
        let list = exchange(&mut client, Command::List(None), b"LIST\r\n", b"+OK\r\n");
        events(&mut client);
        let mut got = Vec::new();
        for b in &entry {
            client.handle_input(&[*b]);
            got.extend(events(&mut client));
        }
        assert_eq!(
            got,
            [
                Event::ListEntry {
                    handle: list,
                    entry: ScanListing {
                        msg: n(1),
                        size: 120
                    },
                },
                Event::MultiEnd { handle: list },
            ]
        );
    }
}
