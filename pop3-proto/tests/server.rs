//! The server role: RFC 1939's examples from the server's side (client bytes split at every
//! index), the hostile-client rows of BAD-INPUT.md (52–58), a 1 GiB body in bounded memory,
//! and our own client's procedures against our server over an in-memory pipe.

use bytes::Bytes;
use pop3_proto::procedures::{
    Batch, BatchItem, Credentials, Exchange, Greet, Login, Procedure, Quit, Step,
};
use pop3_proto::server::{MessageInfo, Request, Server, ServerConfig};
use pop3_proto::{Client, Config, MsgNum, Password, QuitOutcome, ResponseCode, UserName};

/// A host with a mailbox: answers every request, and records what it was asked.
struct Host {
    messages: Vec<Vec<u8>>,
    password: &'static [u8],
    /// Updates committed, and whether the session ended.
    removed: Option<Vec<usize>>,
    closed: bool,
    /// Body chunk size the host streams with.
    chunk: usize,
}

impl Host {
    fn new(messages: Vec<Vec<u8>>) -> Self {
        Self {
            messages,
            password: b"secret",
            removed: None,
            closed: false,
            chunk: 7,
        }
    }

    fn listing(&self) -> Vec<MessageInfo> {
        self.messages
            .iter()
            .enumerate()
            .map(|(i, m)| MessageInfo::new(m.len() as u64, format!("uid-{i}").as_bytes()))
            .collect()
    }

    /// Answers every pending request.
    fn serve(&mut self, server: &mut Server) {
        while let Some(request) = server.poll_request() {
            match request {
                Request::Login { password, .. } => {
                    if password.as_bytes() == self.password {
                        server.accept_login(self.listing());
                    } else {
                        server.reject_login(Some(ResponseCode::Auth), "wrong password");
                    }
                }
                Request::Apop { digest, .. } => {
                    if server.apop_matches(&digest, self.password) {
                        server.accept_login(self.listing());
                    } else {
                        server.reject_login(Some(ResponseCode::Auth), "wrong digest");
                    }
                }
                Request::Retr { index, .. } | Request::Top { index, .. } => {
                    let body = self.messages[index].clone();
                    for piece in body.chunks(self.chunk) {
                        if !server.body(piece) {
                            break;
                        }
                    }
                    server.end_body();
                }
                Request::Update { deleted } => {
                    self.removed = Some(deleted);
                    server.update_done(Ok(()));
                }
                Request::StartTls => server.tls_established(),
                Request::Closed => self.closed = true,
                _ => {}
            }
        }
    }
}

fn loopback() -> ServerConfig {
    let mut config = ServerConfig::default();
    config.allow_plaintext_auth = true;
    config
}

/// A server on [`loopback`] offering APOP, greeted: it, and the timestamp of its greeting.
fn greeted_for_apop() -> (Server, String) {
    let mut config = loopback();
    config.apop_domain = Some("pop.example".into());
    let mut server = Server::new(config);
    server.greet(b"\x12\x34");
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    let greeting = String::from_utf8(out).unwrap();
    let stamp = &greeting[greeting.find('<').unwrap()..=greeting.find('>').unwrap()];
    (server, stamp.to_string())
}

/// Sends `APOP mrose <digest>` and then `rest`, answers what `server` asks of `host`, and
/// returns what the server wrote.
fn apop(server: &mut Server, host: &mut Host, digest: &[u8; 32], rest: &[u8]) -> Vec<u8> {
    let mut line = b"APOP mrose ".to_vec();
    line.extend_from_slice(digest);
    line.extend_from_slice(b"\r\n");
    line.extend_from_slice(rest);
    server.handle_input(&line);
    host.serve(server);
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    out
}

/// Feeds `client` to a fresh server, cut at `cuts`, answering requests as they come;
/// returns everything the server wrote.
fn run(config: ServerConfig, host: &mut Host, client: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut server = Server::new(config);
    server.greet(b"\x01\x02");
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([client.len()].iter()) {
        if cut <= from {
            continue;
        }
        server.handle_input(&client[from..cut]);
        from = cut;
        loop {
            host.serve(&mut server);
            if server.poll_transmit(&mut out) == 0 && server.poll_request().is_none() {
                break;
            }
        }
    }
    host.serve(&mut server);
    server.poll_transmit(&mut out);
    out
}

/// The same conversation split at every index gives the same bytes.
fn every_split(config: ServerConfig, messages: Vec<Vec<u8>>, client: &[u8]) -> (Vec<u8>, Host) {
    let mut host = Host::new(messages.clone());
    let whole = run(config.clone(), &mut host, client, &[]);
    for i in 1..client.len() {
        let mut other = Host::new(messages.clone());
        assert_eq!(
            String::from_utf8_lossy(&run(config.clone(), &mut other, client, &[i])),
            String::from_utf8_lossy(&whole),
            "split at {i}"
        );
    }
    (whole, host)
}

fn rfc_mailbox() -> Vec<Vec<u8>> {
    vec![
        b"Subject: one\r\n\r\nfirst body\r\n.dot line\r\n".to_vec(),
        b"Subject: two\r\n\r\nline 1\r\nline 2\r\nline 3\r\n".to_vec(),
    ]
}

#[test]
fn rfc1939_session_from_the_servers_side() {
    let client = b"CAPA\r\nUSER mrose\r\nPASS secret\r\nSTAT\r\nLIST\r\nUIDL 2\r\nRETR 1\r\nTOP 2 1\r\nDELE 1\r\nSTAT\r\nRETR 1\r\nRSET\r\nDELE 2\r\nLIST 2\r\nQUIT\r\n";
    let (wire, host) = every_split(loopback(), rfc_mailbox(), client);
    let wire = String::from_utf8(wire).unwrap();
    let expected = [
        "+OK POP3 server ready\r\n",
        "+OK capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\nUSER\r\nSASL PLAIN\r\n.\r\n",
        "+OK\r\n",
        "+OK maildrop has 2 messages (79 octets)\r\n",
        "+OK 2 79\r\n",
        "+OK\r\n1 39\r\n2 40\r\n.\r\n",
        "+OK 2 uid-1\r\n",
        "+OK 39 octets\r\nSubject: one\r\n\r\nfirst body\r\n..dot line\r\n.\r\n",
        "+OK 40 octets\r\nSubject: two\r\n\r\nline 1\r\n.\r\n",
        "+OK message 1 deleted\r\n",
        "+OK 1 40\r\n",
        "-ERR message 1 is deleted\r\n",
        "+OK\r\n",
        "+OK message 2 deleted\r\n",
        "-ERR message 2 is deleted\r\n",
        "+OK bye\r\n",
    ]
    .concat();
    assert_eq!(wire, expected);
    assert_eq!(host.removed, Some(vec![1]));
    assert!(host.closed);
}

#[test]
fn apop_and_sasl_plain_log_in() {
    let mut host = Host::new(rfc_mailbox());
    let (mut server, stamp) = greeted_for_apop();
    assert_eq!(stamp, "<1234.2@pop.example>");
    let digest_of = |secret: &[u8]| {
        pop3_proto::apop_digest(
            &pop3_proto::ApopTimestamp::parse(stamp.as_bytes()).unwrap(),
            secret,
        )
    };
    let digest = digest_of(b"secret");
    assert_eq!(
        apop(&mut server, &mut host, &digest, b"STAT\r\n"),
        b"+OK maildrop has 2 messages (79 octets)\r\n+OK 2 79\r\n"
    );

    // A digest of the wrong secret (same timestamp) is refused, as is one that is right but
    // for one byte.
    let mut off_by_one = digest;
    off_by_one[31] = if off_by_one[31] == b'0' { b'1' } else { b'0' };
    for bad in [digest_of(b"not the secret"), off_by_one] {
        let (mut server, again) = greeted_for_apop();
        assert_eq!(again, stamp, "same timestamp");
        assert_eq!(
            apop(&mut server, &mut host, &bad, b""),
            b"-ERR [AUTH] wrong digest\r\n"
        );
    }

    // AUTH PLAIN, with the response on its own line.
    let client = b"AUTH PLAIN\r\nAHRpbQBzZWNyZXQ=\r\nSTAT\r\n";
    let (wire, _) = every_split(loopback(), rfc_mailbox(), client);
    let wire = String::from_utf8(wire).unwrap();
    assert!(
        wire.ends_with("+ \r\n+OK maildrop has 2 messages (79 octets)\r\n+OK 2 79\r\n"),
        "{wire}"
    );
}

// ----- BAD-INPUT rows 52–58 ------------------------------------------------------------------

#[test]
fn row_52_an_overlong_command_line_is_refused_and_the_connection_closed() {
    for client in [
        vec![b'A'; 300],
        [b"NOOP ".as_slice(), &[b'x'; 70_000]].concat(),
    ] {
        let mut host = Host::new(vec![]);
        let wire = run(loopback(), &mut host, &client, &[10, 100, 256]);
        assert_eq!(
            wire,
            b"+OK POP3 server ready\r\n-ERR command line too long\r\n"
        );
        assert!(host.closed);
    }
}

#[test]
fn row_53_nul_bare_cr_or_bare_lf_are_refused_never_two_commands() {
    let client = b"STAT\0QUIT\r\nSTAT\rQUIT\r\nUSER a\nQUIT\r\nNOOP\r\n";
    let (wire, host) = every_split(loopback(), vec![], client);
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        "+OK POP3 server ready\r\n-ERR a control character in a command\r\n-ERR a control character in a command\r\n-ERR a control character in a command\r\n-ERR log in first\r\n"
    );
    assert!(!host.closed, "no QUIT was run");
}

#[test]
fn row_54_pipelined_commands_without_reading_replies_meet_backpressure() {
    let mut config = loopback();
    config.max_output = 4096;
    let mut server = Server::new(config);
    let mut host = Host::new(rfc_mailbox());
    server.greet(b"");
    server.handle_input(b"USER u\r\nPASS secret\r\n");
    host.serve(&mut server);
    // 100,000 STATs, fed only while the server wants input and never read back until it stops.
    let mut fed = 0;
    let total = 100_000;
    let commands = b"STAT\r\n".repeat(total);
    let mut replies = Vec::new();
    while fed < commands.len() {
        if server.wants_input() {
            let n = 37.min(commands.len() - fed);
            server.handle_input(&commands[fed..fed + n]);
            fed += n;
        } else {
            // The client reads only now: output never exceeds the bound plus one line.
            let n = server.poll_transmit(&mut replies);
            assert!(n <= 4096 + 64, "{n} bytes were pending");
        }
    }
    server.poll_transmit(&mut replies);
    let text = String::from_utf8(replies).unwrap();
    let stats = text.matches("+OK 2 79\r\n").count();
    assert_eq!(stats, total, "every reply, in order");
}

#[test]
fn row_55_wrong_state_and_bad_numbers_are_refused_and_change_nothing() {
    let client = b"RETR 1\r\nPASS x\r\nUSER u\r\nPASS secret\r\nUSER again\r\nRETR 0\r\nRETR 3\r\nRETR 4294967296\r\nDELE 2\r\nDELE 2\r\nRETR 2\r\nTOP 1 x\r\nSTAT\r\n";
    let (wire, _) = every_split(loopback(), rfc_mailbox(), client);
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        [
            "+OK POP3 server ready\r\n",
            "-ERR log in first\r\n",
            "-ERR USER first\r\n",
            "+OK\r\n",
            "+OK maildrop has 2 messages (79 octets)\r\n",
            "-ERR not in this state\r\n",
            "-ERR bad arguments\r\n",
            "-ERR no such message\r\n",
            "-ERR bad arguments\r\n",
            "+OK message 2 deleted\r\n",
            "-ERR message 2 is deleted\r\n",
            "-ERR message 2 is deleted\r\n",
            "-ERR bad arguments\r\n",
            "+OK 1 39\r\n",
        ]
        .concat()
    );
}

#[test]
fn row_56_plaintext_pipelined_after_stls_is_never_executed() {
    let mut config = loopback();
    config.stls = true;
    config.allow_plaintext_auth = false;
    let mut server = Server::new(config);
    let mut host = Host::new(rfc_mailbox());
    server.greet(b"");
    // The attacker appends commands to the client's STLS, in the same segment.
    server.handle_input(b"STLS\r\nUSER u\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n");
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    assert!(matches!(server.poll_request(), Some(Request::StartTls)));
    server.tls_established();
    host.serve(&mut server);
    server.poll_transmit(&mut out);
    assert_eq!(
        out,
        b"+OK POP3 server ready\r\n+OK begin TLS negotiation\r\n"
    );
    assert!(server.is_tls() && !server.is_logged_in() && host.removed.is_none());
    // Inside TLS the session starts fresh; credentials are fine now.
    server.handle_input(b"CAPA\r\n");
    out.clear();
    server.poll_transmit(&mut out);
    assert!(!String::from_utf8(out).unwrap().contains("STLS"));
}

#[test]
fn row_57_failed_logins_are_the_hosts_to_rate_limit_and_end_the_session() {
    let client =
        b"USER u\r\nPASS a\r\nUSER u\r\nPASS b\r\nUSER u\r\nPASS c\r\nUSER u\r\nPASS secret\r\n";
    let (wire, host) = every_split(loopback(), vec![], client);
    assert_eq!(
        String::from_utf8(wire).unwrap(),
        [
            "+OK POP3 server ready\r\n",
            "+OK\r\n-ERR [AUTH] wrong password\r\n",
            "+OK\r\n-ERR [AUTH] wrong password\r\n",
            "+OK\r\n-ERR [AUTH] wrong password\r\n-ERR [AUTH] too many failed logins\r\n",
        ]
        .concat()
    );
    assert!(host.closed);
    // Over plaintext, credentials are refused unless the host allows them.
    let (wire, _) = every_split(ServerConfig::default(), vec![], b"USER u\r\n");
    assert!(String::from_utf8(wire)
        .unwrap()
        .ends_with("-ERR [AUTH] use STLS first\r\n"));
}

#[test]
fn row_58_a_connection_dropped_after_dele_removes_nothing() {
    let mut host = Host::new(rfc_mailbox());
    let mut server = Server::new(loopback());
    server.greet(b"");
    server.handle_input(b"USER u\r\nPASS secret\r\nDELE 1\r\nDELE 2\r\n");
    host.serve(&mut server);
    server.handle_eof();
    host.serve(&mut server);
    assert!(host.closed && host.removed.is_none());
}

// ----- bodies --------------------------------------------------------------------------------

#[test]
fn a_gigabyte_body_streams_in_bounded_memory() {
    let mut server = Server::new(loopback());
    let mut host = Host::new(vec![b"x\r\n".to_vec()]);
    server.greet(b"");
    server.handle_input(b"USER u\r\nPASS secret\r\n");
    host.serve(&mut server);
    let mut sink = Vec::with_capacity(1 << 17);
    server.poll_transmit(&mut sink);
    server.handle_input(b"RETR 1\r\n");
    assert!(matches!(server.poll_request(), Some(Request::Retr { .. })));
    let mut line = vec![b'a'; 1022];
    line.extend_from_slice(b"\r\n");
    let chunk: Vec<u8> = line.repeat(64); // 64 KiB
    let (mut sent, mut peak) = (0u64, 0usize);
    while sent < 1 << 30 {
        assert!(server.body(&chunk));
        sent += chunk.len() as u64;
        sink.clear();
        peak = peak.max(server.poll_transmit(&mut sink));
    }
    server.end_body();
    sink.clear();
    server.poll_transmit(&mut sink);
    assert_eq!(
        sink, b".\r\n",
        "the body ended in CRLF: only the terminator is added"
    );
    // The session never held more than one chunk (plus the status line).
    assert!(peak <= chunk.len() + 64, "{peak}");
}

// ----- our client against our server ---------------------------------------------------------

/// Runs a client procedure against a server through an in-memory pipe.
fn drive<P: Procedure>(
    client: &mut Client,
    server: &mut Server,
    host: &mut Host,
    mut p: P,
    mut each: impl FnMut(P::Item),
) -> P::Output {
    loop {
        match p.step(client).expect("client procedure") {
            Step::Done(output) => return output,
            Step::Item(item) => each(item),
            Step::StartTls(upgrade) => {
                host.serve(server);
                upgrade.established(client).unwrap();
            }
            Step::Io => {
                let mut wire = Vec::new();
                if client.poll_transmit(&mut wire) > 0 {
                    server.handle_input(&wire);
                }
                host.serve(server);
                let mut back = Vec::new();
                server.poll_transmit(&mut back);
                host.serve(server);
                server.poll_transmit(&mut back);
                if back.is_empty() && wire.is_empty() {
                    client.handle_eof();
                } else {
                    client.handle_input(&back);
                }
            }
        }
    }
}

fn tricky(n: usize) -> Vec<u8> {
    let mut m = format!("Subject: {n}\r\n\r\n").into_bytes();
    for i in 0..(n * 37 % 50) {
        match i % 5 {
            0 => m.extend_from_slice(b".\r\n"),
            1 => m.extend_from_slice(b"..two\r\n"),
            2 => m.extend_from_slice(&[0xff, 0x00, b'\r', b'\n']),
            3 => m.extend_from_slice(b"bare\nLF and bare\rCR\r\n"),
            _ => m.extend_from_slice(format!(".line {i}\r\n").as_bytes()),
        }
    }
    m
}

#[test]
fn our_client_fetches_and_deletes_everything_from_our_server_byte_exact() {
    let messages: Vec<Vec<u8>> = (1..=40).map(tricky).collect();
    let mut host = Host::new(messages.clone());
    host.chunk = 13;
    let mut server = Server::new(loopback());
    server.greet(b"");
    let mut config = Config::default();
    config.allow_plaintext_auth = true;
    let mut client = Client::new(config);
    let mut out = Vec::new();
    server.poll_transmit(&mut out);
    client.handle_input(&out);
    drive(
        &mut client,
        &mut server,
        &mut host,
        Greet::new(),
        |n| match n {},
    );
    let login = Login::new(Credentials::UserPass {
        user: UserName::new("u").unwrap(),
        pass: Password::new("secret").unwrap(),
    });
    drive(&mut client, &mut server, &mut host, login, |n| match n {}).unwrap();
    let all: Vec<MsgNum> = (1..=40).map(|n| MsgNum::new(n).unwrap()).collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); 40];
    let report = drive(
        &mut client,
        &mut server,
        &mut host,
        Batch::retr(all.clone()),
        |item| {
            if let BatchItem::Data { msg, data } = item {
                got[msg.get() as usize - 1].extend_from_slice(&data);
            }
        },
    );
    assert!(client.is_pipelining(), "the server advertises PIPELINING");
    assert_eq!(report.done.len(), 40);
    for (i, m) in messages.iter().enumerate() {
        // The stuffer ends a body that lacks a final CRLF with one (RFC 1939).
        let mut want = m.clone();
        if !want.ends_with(b"\r\n") {
            want.extend_from_slice(b"\r\n");
        }
        assert_eq!(
            Bytes::from(got[i].clone()),
            Bytes::from(want),
            "message {}",
            i + 1
        );
    }
    drive(
        &mut client,
        &mut server,
        &mut host,
        Batch::dele(all),
        |_| (),
    )
    .refused
    .is_empty()
    .then_some(())
    .unwrap();
    let stat = drive(
        &mut client,
        &mut server,
        &mut host,
        Exchange::stat(),
        |n| match n {},
    )
    .unwrap();
    assert_eq!(stat.count, 0, "deleted messages are hidden");
    let outcome = drive(
        &mut client,
        &mut server,
        &mut host,
        Quit::new(),
        |n| match n {},
    );
    assert!(matches!(outcome, QuitOutcome::Committed(_)));
    assert_eq!(host.removed, Some((0..40).collect()));
}
