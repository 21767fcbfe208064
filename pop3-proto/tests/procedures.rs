//! Procedures against scripted servers, without sockets: each scenario runs with the server's
//! bytes fed whole, byte by byte, and split at every index, and must give the same steps
//! (adjacent body chunks merged), the same outputs and the same bytes on the wire.

use bytes::Bytes;
use pop3_proto::procedures::{
    Auto, Batch, BatchItem, Collect, Credentials, Exchange, Greet, Login, Multi, Procedure, Quit,
    StartTls, Step,
};
use pop3_proto::sasl::{self, CramMd5, Mechanism, OAuthBearer, Scram, XOAuth2};
use pop3_proto::{Client, Config, Event, MsgNum, Password, Pipelining, UserName};
use std::fmt::Debug;

/// One exchange of the script: what the client must have written (a whole line; "" for none,
/// as before the greeting; [`EMPTY`] for an empty line), then what the server sends back.
type Script = &'static [(&'static str, &'static str)];

/// An empty line from the client (an empty SASL response).
const EMPTY: &str = "<empty line>";

/// The server side: releases its bytes as the client writes the lines they answer, in pieces
/// cut at `cuts` (offsets into the whole server stream).
struct Feeder {
    script: Script,
    stream: Vec<u8>,
    /// Where each exchange's reply ends in `stream`.
    ends: Vec<usize>,
    fed: usize,
    cuts: Vec<usize>,
    written: Vec<u8>,
}

impl Feeder {
    fn new(script: Script, cuts: Vec<usize>) -> Self {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        for (_, reply) in script {
            stream.extend_from_slice(reply.as_bytes());
            ends.push(stream.len());
        }
        Self {
            script,
            stream,
            ends,
            fed: 0,
            cuts,
            written: Vec::new(),
        }
    }

    /// How far the server may have sent, given the lines the client wrote so far.
    fn released(&self) -> usize {
        let lines = self.written.iter().filter(|&&b| b == b'\n').count();
        let mut wanted = 0;
        let mut released = 0;
        for (i, (client, _)) in self.script.iter().enumerate() {
            if !client.is_empty() {
                wanted += 1;
            }
            if wanted > lines {
                break;
            }
            released = self.ends[i];
        }
        released
    }

    /// One round of I/O for `Step::Io`: write, else read one piece.
    fn io(&mut self, client: &mut Client) {
        if client.poll_transmit(&mut self.written) > 0 {
            return;
        }
        let released = self.released();
        let next_cut = self.cuts.iter().copied().find(|&c| c > self.fed);
        let end = next_cut.map_or(released, |c| c.min(released));
        assert!(
            end > self.fed,
            "deadlock: the client waits for input after writing {:?}",
            String::from_utf8_lossy(&self.written)
        );
        client.handle_input(&self.stream[self.fed..end]);
        self.fed = end;
    }

    /// The client wrote exactly these lines.
    fn check_wire(&self, lines: &[&str]) {
        let expected: String = lines
            .iter()
            .map(|&c| {
                if c == EMPTY {
                    "\r\n".into()
                } else {
                    format!("{c}\r\n")
                }
            })
            .collect();
        assert_eq!(String::from_utf8_lossy(&self.written), expected);
    }
}

/// What a scenario saw: rendered steps, body bytes merged; and how many body bytes were
/// handed out (not compared: where an abandoned body stops depends on the cuts).
#[derive(Debug, Default)]
struct Seen(Vec<String>, u64);

impl PartialEq for Seen {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Seen {
    fn data(&mut self, tag: String, data: &[u8]) {
        self.1 += data.len() as u64;
        let text = String::from_utf8_lossy(data);
        match self.0.last_mut() {
            Some(last) if last.starts_with(&tag) => last.push_str(&text),
            _ => self.0.push(format!("{tag}{text}")),
        }
    }

    fn line(&mut self, line: impl Debug) {
        self.0.push(format!("{line:?}"));
    }
}

trait Render {
    fn render(&self, seen: &mut Seen);
}

impl Render for core::convert::Infallible {
    fn render(&self, _: &mut Seen) {
        match *self {}
    }
}

impl Render for Bytes {
    fn render(&self, seen: &mut Seen) {
        seen.data("data: ".into(), self);
    }
}

impl Render for BatchItem {
    fn render(&self, seen: &mut Seen) {
        match self {
            BatchItem::Data { msg, data } => seen.data(format!("data {msg}: "), data),
            other => seen.line(other),
        }
    }
}

impl Render for pop3_proto::ScanListing {
    fn render(&self, seen: &mut Seen) {
        seen.line(self);
    }
}

/// Runs `p` to its end (or, with `items`, only until it handed out that many items).
fn drive<P: Procedure>(
    client: &mut Client,
    feeder: &mut Feeder,
    seen: &mut Seen,
    mut p: P,
    items: Option<usize>,
) where
    P::Item: Render,
    P::Output: Debug,
{
    let mut count = 0;
    loop {
        let step = match p.step(client) {
            Ok(step) => step,
            Err(e) => return seen.line(format!("error: {e}")),
        };
        match step {
            Step::Io => feeder.io(client),
            Step::Item(item) => {
                item.render(seen);
                count += 1;
                if Some(count) == items {
                    seen.line("abandoned");
                    return;
                }
            }
            Step::StartTls(upgrade) => {
                seen.line("handshake");
                upgrade.established(client).expect("established");
            }
            Step::Done(output) => return seen.line(output),
        }
    }
}

std::thread_local! {
    /// Body bytes the observer of this test thread saw.
    static OBSERVED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// An observer as the drivers' trace is one: it sees every body chunk, whoever takes it.
fn count_body(event: &Event) {
    if let Event::BodyChunk { data, .. } = event {
        OBSERVED.with(|seen| seen.set(seen.get() + data.len() as u64));
    }
}

/// Runs `scenario` with every way of cutting the server's bytes, without and with an
/// observer (the drivers always set one); all must agree, the client must have written the
/// script's lines, and the observer must have seen every body byte handed out (more when a
/// body was abandoned: its rest is skipped, and observed, on the way to the next reply).
fn check(script: Script, scenario: impl Fn(&mut Client, &mut Feeder, &mut Seen)) -> Seen {
    let lines: Vec<&str> = script
        .iter()
        .map(|(c, _)| *c)
        .filter(|c| !c.is_empty())
        .collect();
    let total: usize = script.iter().map(|(_, s)| s.len()).sum();
    let mut ways: Vec<Vec<usize>> = vec![Vec::new(), (1..total).collect()];
    ways.extend((1..total).map(|i| vec![i]));
    let mut first: Option<Seen> = None;
    for observed in [false, true] {
        for cuts in &ways {
            let mut config = Config::default();
            config.allow_plaintext_auth = true;
            config.pipelining = Pipelining::Auto;
            let mut client = Client::new(config);
            if observed {
                client.set_observer(Some(count_body));
            }
            OBSERVED.with(|seen| seen.set(0));
            let mut feeder = Feeder::new(script, cuts.clone());
            let mut seen = Seen::default();
            scenario(&mut client, &mut feeder, &mut seen);
            feeder.check_wire(&lines);
            let saw = OBSERVED.with(|seen| seen.get());
            if !observed {
                assert_eq!(saw, 0);
            } else if seen.0.iter().any(|line| line.contains("abandoned")) {
                assert!(saw >= seen.1, "observed {saw} of {} body bytes", seen.1);
            } else {
                assert_eq!(saw, seen.1, "the observer must see every body byte");
            }
            match &first {
                None => first = Some(seen),
                Some(f) => assert_eq!(&seen, f, "cut at {cuts:?}, observer: {observed}"),
            }
        }
    }
    first.expect("at least one way")
}

fn n(i: u32) -> MsgNum {
    MsgNum::new(i).unwrap()
}

fn user_pass(user: &str, pass: &str) -> Login {
    Login::new(Credentials::UserPass {
        user: UserName::new(user).unwrap(),
        pass: Password::new(pass).unwrap(),
    })
}

#[test]
fn login_then_a_pipelined_batch_with_a_refusal_then_quit() {
    const SCRIPT: Script = &[
        ("", "+OK ready\r\n"),
        ("USER alice", "+OK\r\n"),
        ("PASS secret", "+OK logged in\r\n"),
        ("CAPA", "+OK\r\nPIPELINING\r\nUIDL\r\n.\r\n"),
        ("RETR 1", "+OK\r\nSubject: one\r\n\r\n..dot\r\n.\r\n"),
        ("RETR 2", "-ERR [SYS/TEMP] locked\r\n"),
        ("RETR 3", "+OK\r\nthree\r\n.\r\n"),
        ("QUIT", "+OK bye\r\n"),
    ];
    let seen = check(SCRIPT, |client, feeder, seen| {
        drive(client, feeder, seen, Greet::new(), None);
        drive(client, feeder, seen, user_pass("alice", "secret"), None);
        drive(client, feeder, seen, Batch::retr([n(1), n(2), n(3)]), None);
        drive(client, feeder, seen, Quit::new(), None);
    });
    let text = seen.0.join("\n");
    assert!(
        text.contains("data 1: Subject: one\r\n\r\n.dot\r\n"),
        "{text}"
    );
    assert!(text.contains("Refused { msg: 2"), "{text}");
    assert!(text.contains("Committed"), "{text}");
}

#[test]
fn a_refused_user_never_sees_the_password() {
    const SCRIPT: Script = &[
        ("", "+OK ready\r\n"),
        ("USER mallory", "-ERR no such user\r\n"),
        ("USER alice", "+OK\r\n"),
        ("PASS secret", "-ERR [IN-USE] locked\r\n"),
    ];
    let seen = check(SCRIPT, |client, feeder, seen| {
        drive(client, feeder, seen, user_pass("mallory", "secret"), None);
        drive(client, feeder, seen, user_pass("alice", "secret"), None);
    });
    assert!(seen.0[0].contains("command: \"USER\""), "{seen:?}");
    assert!(
        seen.0[1].contains("command: \"PASS\"") && seen.0[1].contains("InUse"),
        "{seen:?}"
    );
}

#[test]
fn required_stls_then_a_bounded_listing_then_stat() {
    const SCRIPT: Script = &[
        ("", "+OK ready\r\n"),
        ("CAPA", "+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
        ("STLS", "+OK begin TLS\r\n"),
        ("CAPA", "+OK\r\nUSER\r\nX-INSIDE\r\n.\r\n"),
        ("USER alice", "+OK\r\n"),
        ("PASS secret", "+OK\r\n"),
        ("LIST", "+OK\r\n1 10\r\n2 20\r\n3 30\r\n.\r\n"),
        ("STAT", "+OK 3 60\r\n"),
    ];
    let seen = check(SCRIPT, |client, feeder, seen| {
        drive(client, feeder, seen, StartTls::required(), None);
        drive(client, feeder, seen, user_pass("alice", "secret"), None);
        drive(
            client,
            feeder,
            seen,
            Collect::entries(Multi::list(), 2),
            None,
        );
        drive(client, feeder, seen, Exchange::stat(), None);
    });
    let text = seen.0.join("\n");
    assert!(
        text.contains("handshake") && text.contains("X-INSIDE"),
        "{text}"
    );
    assert!(
        text.contains("TooLarge { command: \"LIST\", limit: 2 }"),
        "{text}"
    );
    assert!(text.contains("count: 3, size: 60"), "{text}");
}

#[test]
fn an_abandoned_batch_is_skipped_and_its_unsent_commands_withdrawn() {
    // Not pipelining: the batch has one RETR out when it is dropped after its first item;
    // RETR 2 and 3 must never be sent, and STAT must get its own reply.
    const SCRIPT: Script = &[
        ("", "+OK ready\r\n"),
        ("USER alice", "+OK\r\n"),
        ("PASS secret", "+OK\r\n"),
        ("CAPA", "-ERR no CAPA here\r\n"),
        ("RETR 1", "+OK\r\nfirst line\r\nsecond line\r\n.\r\n"),
        ("STAT", "+OK 3 99\r\n"),
    ];
    let seen = check(SCRIPT, |client, feeder, seen| {
        drive(client, feeder, seen, user_pass("alice", "secret"), None);
        drive(
            client,
            feeder,
            seen,
            Batch::retr([n(1), n(2), n(3)]),
            Some(1),
        );
        // What the first item held depends on the cut; keep only that one was abandoned.
        seen.0.retain(|s| !s.starts_with("data"));
        drive(client, feeder, seen, Exchange::stat(), None);
    });
    assert_eq!(seen.0.last().unwrap(), "Ok(Stat { count: 3, size: 99 })");
}

// ----- SASL mechanisms through the login procedure ------------------------------------------

fn sasl(mechanism: impl Mechanism + 'static) -> Login {
    Login::new(Credentials::Sasl(Box::new(mechanism)))
}

fn pencil() -> Password {
    Password::new("pencil").unwrap()
}

const SCRAM_AUTH: &str = "AUTH SCRAM-SHA-256 biwsbj11c2VyLHI9ck9wck5HZndFYmVSV2diTkVrcU8=";
const SCRAM_FIRST: &str = "+ cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTQwOTY=\r\n";
const SCRAM_FINAL: &str = "Yz1iaXdzLHI9ck9wck5HZndFYmVSV2diTkVrcU8laHZZRHBXVWEyUmFUQ0FmdXhGSWxqKWhObEYkazAscD1kSHpiWmFwV0lrNGpVaE4rVXRlOXl0YWc5empmTUhnc3FtbWl6N0FuZFZRPQ==";

fn rfc7677() -> Scram {
    Scram::sha256("user", &pencil(), "rOprNGfwEbeRWgbNEkqO").unwrap()
}

#[test]
fn scram_sha_256_rfc7677_exchange() {
    // The server-final challenge is answered with an empty line, then +OK.
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (SCRAM_AUTH, SCRAM_FIRST),
        (
            SCRAM_FINAL,
            "+ dj02cnJpVFJCaTIzV3BSUi93dHVwK21NaFVaVW4vZEI1bkxUSlJzamw5NUc0PQ==\r\n",
        ),
        (EMPTY, "+OK maildrop locked and ready\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        drive(client, feeder, seen, sasl(rfc7677()), None);
    });
    assert_eq!(
        seen.0,
        ["Ok(Status { indicator: Ok, code: None, text: \"maildrop locked and ready\" })"]
    );
}

#[test]
fn row_43_scram_ok_without_the_server_signature_fails() {
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (SCRAM_AUTH, SCRAM_FIRST),
        (SCRAM_FINAL, "+OK welcome, impostor\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        drive(client, feeder, seen, sasl(rfc7677()), None);
    });
    assert!(seen.0[0].contains("did not prove"), "{seen:?}");
}

#[test]
fn row_49_scram_absurd_iterations_are_cancelled_with_a_star() {
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (SCRAM_AUTH, "+ cj1yT3ByTkdmd0ViZVJXZ2JORWtxTyVodllEcFdVYTJSYVRDQWZ1eEZJbGopaE5sRiRrMCxzPVcyMlphSjBTTlk3c29Fc1VFamI2Z1E9PSxpPTIxNDc0ODM2NDc=\r\n"),
        ("*", "-ERR authentication cancelled\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        drive(client, feeder, seen, sasl(rfc7677()), None);
    });
    assert!(
        seen.0[0].contains("more iterations than the configured maximum"),
        "{seen:?}"
    );
}

#[test]
fn cram_md5_and_login() {
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (
            "AUTH CRAM-MD5",
            "+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
        ),
        (
            "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
            "-ERR [AUTH] no\r\n",
        ),
        ("AUTH LOGIN", "+ VXNlcm5hbWU6\r\n"),
        ("YWxpY2U=", "+ UGFzc3dvcmQ6\r\n"),
        ("c2VjcmV0", "+OK\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        let tim = CramMd5::new("tim", &Password::new("tanstaaftanstaaf").unwrap());
        drive(client, feeder, seen, sasl(tim), None);
        let login = sasl::Login::new("alice", &Password::new("secret").unwrap());
        drive(client, feeder, seen, sasl(login), None);
    });
    assert!(
        seen.0[0].contains("Auth") && seen.0[0].contains("AUTH"),
        "{seen:?}"
    );
    assert!(seen.0[1].starts_with("Ok("), "{seen:?}");
}

#[test]
fn row_51_oauth_error_statuses_are_answered_and_reported_never_retried() {
    const JSON: &str = "+ eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJodHRwczovL21haWwuZ29vZ2xlLmNvbS8ifQ==\r\n";
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (
            "AUTH XOAUTH2 dXNlcj1hbGljZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2sBAQ==",
            JSON,
        ),
        (EMPTY, "-ERR [AUTH] invalid token\r\n"),
        (
            "AUTH OAUTHBEARER bixhPWFsaWNlQGV4YW1wbGUuY29tLAFhdXRoPUJlYXJlciB0b2sBAQ==",
            JSON,
        ),
        ("AQ==", "-ERR [AUTH] invalid token\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        drive(
            client,
            feeder,
            seen,
            sasl(XOAuth2::new("alice@example.com", "tok")),
            None,
        );
        drive(
            client,
            feeder,
            seen,
            sasl(OAuthBearer::new("alice@example.com", "tok")),
            None,
        );
    });
    for line in &seen.0 {
        assert!(
            line.contains("invalid token") && line.contains("schemes"),
            "{line}"
        );
    }
}

#[test]
fn auto_picks_the_strongest_offered_and_tries_only_that() {
    const WIRE: Script = &[
        ("", "+OK ready <1.2@host>\r\n"),
        (
            "CAPA",
            "+OK\r\nUSER\r\nSASL PLAIN CRAM-MD5 SCRAM-SHA-256 LOGIN\r\n.\r\n",
        ),
        (SCRAM_AUTH, SCRAM_FIRST),
        (SCRAM_FINAL, "-ERR [AUTH] wrong password\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        let auto = Auto::new(
            UserName::new("user").unwrap(),
            pencil(),
            "rOprNGfwEbeRWgbNEkqO",
        );
        drive(
            client,
            feeder,
            seen,
            Login::new(Credentials::Auto(auto)),
            None,
        );
    });
    assert!(seen.0[0].contains("wrong password"), "{seen:?}");
}

#[test]
fn scram_sha_1_rfc5802_external_and_anonymous() {
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (
            "AUTH SCRAM-SHA-1 biwsbj11c2VyLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdM",
            "+ cj1meWtvK2QybGJiRmdPTlJ2OXFreGRhd0wzcmZjTkhZSlkxWlZ2V1ZzN2oscz1RU1hDUitRNnNlazhiZjkyLGk9NDA5Ng==\r\n",
        ),
        (
            "Yz1iaXdzLHI9ZnlrbytkMmxiYkZnT05Sdjlxa3hkYXdMM3JmY05IWUpZMVpWdldWczdqLHA9djBYOHYzQnoyVDBDSkdiSlF5RjBYK0hJNFRzPQ==",
            "+ dj1ybUY5cHFWOFM3c3VBb1pXamE0ZEpSa0ZzS1E9\r\n",
        ),
        (EMPTY, "-ERR [SYS/TEMP] try later\r\n"),
        ("AUTH EXTERNAL =", "-ERR [AUTH] no certificate\r\n"),
        ("AUTH ANONYMOUS Z3Vlc3Q=", "+OK welcome, guest\r\n"),
    ];
    let seen = check(WIRE, |client, feeder, seen| {
        let scram = Scram::sha1("user", &pencil(), "fyko+d2lbbFgONRv9qkxdawL").unwrap();
        drive(client, feeder, seen, sasl(scram), None);
        drive(client, feeder, seen, sasl(sasl::External::new(None)), None);
        drive(
            client,
            feeder,
            seen,
            sasl(sasl::Anonymous::new("guest")),
            None,
        );
    });
    assert!(seen.0[0].contains("SysTemp"), "{seen:?}");
    assert!(seen.0[1].contains("no certificate"), "{seen:?}");
    assert!(seen.0[2].starts_with("Ok("), "{seen:?}");
}

// ----- what a review found -----------------------------------------------------------------

fn logged_in() -> Client {
    let mut config = Config::default();
    config.allow_plaintext_auth = true;
    let mut client = Client::new(config);
    client.handle_input(b"+OK\r\n");
    client.poll_event().unwrap();
    client
}

#[test]
fn an_abandoned_auth_answers_its_remaining_challenges_with_a_star() {
    let mut client = logged_in();
    let login = sasl::Login::new("alice", &Password::new("secret").unwrap());
    let mut auth = sasl(login);
    assert!(matches!(auth.step(&mut client).unwrap(), Step::Io));
    let mut wire = Vec::new();
    client.poll_transmit(&mut wire);
    drop(auth); // the caller gave up after AUTH went out
    client.retract_unsent();
    client.handle_input(b"+ VXNlcm5hbWU6\r\n");
    assert_eq!(client.poll_event().unwrap(), None);
    wire.clear();
    client.poll_transmit(&mut wire);
    assert_eq!(wire, b"*\r\n", "no user name, no password after the drop");
}

#[test]
fn a_second_challenge_before_our_answer_is_unsolicited() {
    let mut client = logged_in();
    let login = sasl::Login::new("alice", &Password::new("secret").unwrap());
    let mut auth = sasl(login);
    let _ = auth.step(&mut client).unwrap();
    client.poll_transmit(&mut Vec::new());
    client.handle_input(b"+ VXNlcm5hbWU6\r\n+ UGFzc3dvcmQ6\r\n");
    let err = auth.step(&mut client).unwrap_err();
    assert!(err.to_string().contains("nobody asked for"), "{err}");
}

#[test]
fn a_multi_line_command_is_refused_by_a_single_line_exchange_before_anything_is_sent() {
    let mut client = logged_in();
    let cmd = pop3_proto::Command::Capa;
    let err = Exchange::status(cmd).step(&mut client).unwrap_err();
    assert!(
        matches!(
            err,
            pop3_proto::Error::Local(pop3_proto::LocalError::WrongProcedure { .. })
        ),
        "{err:?}"
    );
    assert_eq!(client.queued() + client.in_flight(), 0);
}

#[test]
fn required_stls_over_tls_is_a_local_error_with_nothing_sent() {
    let mut config = Config::default();
    config.implicit_tls = true;
    let mut client = Client::new(config);
    client.handle_input(b"+OK\r\n");
    client.poll_event().unwrap();
    let err = StartTls::required().step(&mut client).unwrap_err();
    assert!(err.is_local(), "{err:?}");
    assert_eq!(client.poll_transmit(&mut Vec::new()), 0);
}

#[test]
fn auto_says_y_only_when_the_server_offers_no_plus() {
    // The server offers -PLUS but the caller allows only plain SCRAM: the GS2 flag must be
    // `n`, or the server would have to fail the login as a downgrade.
    const WIRE: Script = &[
        ("", "+OK ready\r\n"),
        (
            "CAPA",
            "+OK\r\nSASL SCRAM-SHA-256 SCRAM-SHA-256-PLUS\r\n.\r\n",
        ),
        (SCRAM_AUTH, "-ERR [AUTH] no\r\n"),
    ];
    check(WIRE, |client, feeder, seen| {
        let auto = Auto::new(
            UserName::new("user").unwrap(),
            pencil(),
            "rOprNGfwEbeRWgbNEkqO",
        )
        .channel_binding(Some(sasl::ChannelBinding::TlsExporter(vec![7; 32])))
        .only(&[pop3_proto::procedures::Method::ScramSha256]);
        drive(
            client,
            feeder,
            seen,
            Login::new(Credentials::Auto(auto)),
            None,
        );
    });
}
