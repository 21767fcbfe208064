//! The Tokio driver against the blocking crate's scripted loopback server: the driver-level
//! rows of `shared/BAD-INPUT.md` (timeouts, end of stream, STLS), TLS verification, QUIT
//! outcomes, and the no-QUIT-on-drop and pipelining promises — the async twins of
//! `pop3-blocking/tests/scripted.rs`. Each test asserts the exact error.

#[path = "../../pop3-blocking/tests/support/mod.rs"]
mod support;

use pop3_tokio::pop3_proto::{LocalError, MsgNum, QuitOutcome, RemoteError, ResponseCode};
use pop3_tokio::{BatchReport, Connector, Error, Part, Pop3, TlsMode};
use std::time::{Duration, Instant};
use support::{expect, send, silence, Pki, Server, Step};
use tokio::io::AsyncReadExt;

/// The client's reply timeout in tests that do not test timeouts: long enough for a loaded
/// machine, short enough that a broken test fails fast.
const TIMEOUT: Duration = Duration::from_millis(1500);

const GREETING: &str = "+OK POP3 ready\r\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Awaits `future`, failing the test if it takes longer than `limit`: for calls that must
/// end by the driver's own timeout, so that a timer that never fires fails the test quickly
/// instead of hanging until the scripted server gives up. The limit is checked *before* the
/// future is polled again (`tokio::time::timeout` polls the future first, which would let
/// its own wake-up rescue a driver whose timer never woke it).
async fn within<T>(limit: Duration, what: &str, future: impl std::future::Future<Output = T>) -> T {
    let deadline = tokio::time::sleep(limit);
    tokio::select! {
        biased;
        () = deadline => panic!("{what}: still pending after {limit:?}; the driver's timeout never fired"),
        output = future => output,
    }
}

fn msg(n: u32) -> MsgNum {
    MsgNum::new(n).expect("non-zero")
}

/// Plaintext to the scripted server, credentials allowed (it is loopback).
fn plain(server: &Server) -> Connector {
    plain_strict(server).allow_insecure_auth(true)
}

/// Plaintext to the scripted server, with the default refusal of plaintext credentials.
fn plain_strict(server: &Server) -> Connector {
    Connector::new("127.0.0.1")
        .port(server.port())
        .tls_mode(TlsMode::InsecurePlaintext)
        .timeout(TIMEOUT)
}

/// Implicit TLS to the scripted server, trusting the test CA.
fn implicit(server: &Server) -> Connector {
    Connector::new("127.0.0.1")
        .port(server.port())
        .tls_config(Pki::shared().client_config())
        .timeout(TIMEOUT)
}

/// Required STLS to the scripted server, trusting the test CA.
fn starttls(server: &Server) -> Connector {
    implicit(server).tls_mode(TlsMode::StartTls)
}

fn tls() -> Step {
    Step::Tls(Pki::shared().server_config())
}

/// The script of a server that greets and accepts `login("alice", "secret")`.
fn greet_and_login() -> Vec<Step> {
    vec![
        send(GREETING),
        expect("USER alice"),
        send("+OK\r\n"),
        expect("PASS secret"),
        send("+OK logged in\r\n"),
    ]
}

fn script(parts: &[&[Step]]) -> Vec<Step> {
    parts.concat()
}

/// How a test reaches the scripted server.
#[derive(Debug, Clone, Copy)]
enum Via {
    Plain,
    Implicit,
}

impl Via {
    fn connector(self, server: &Server) -> Connector {
        match self {
            Via::Plain => plain(server),
            Via::Implicit => implicit(server),
        }
    }

    /// The steps that start the connection (the TLS handshake, if any).
    fn prelude(self) -> Vec<Step> {
        match self {
            Via::Plain => vec![],
            Via::Implicit => vec![tls()],
        }
    }
}

// ----- row 2: no greeting; timeouts poison the session ----------------------------------------

#[tokio::test]
async fn row02_no_greeting_or_half_a_greeting_times_out() {
    let cases: [(&str, Vec<Step>); 2] = [
        ("no greeting", vec![Step::ExpectEof]),
        (
            "half a greeting",
            vec![send("+OK POP3 rea"), Step::ExpectEof],
        ),
    ];
    for (case, steps) in cases {
        let server = Server::start(steps);
        let started = Instant::now();
        let connecting = plain(&server).timeout(ms(300)).connect();
        let err = within(ms(1200), case, connecting).await.expect_err(case);
        assert!(
            matches!(err, Error::Timeout(d) if d == ms(300)),
            "{case}: {err:?}"
        );
        assert!(started.elapsed() >= ms(250), "{case}: gave up too early");
        server.join(); // the server saw nothing but the end of the stream
    }
}

#[tokio::test]
async fn timeout_poisons_the_session_and_nothing_more_is_sent() {
    // The server never answers CAPA; after the timeout the client must send nothing, not
    // even QUIT (a late reply could otherwise be taken for the answer to a later command).
    let server = Server::start(vec![send(GREETING), expect("CAPA"), Step::ExpectEof]);
    let mut pop = plain(&server)
        .timeout(ms(300))
        .connect()
        .await
        .expect("connect");
    let started = Instant::now();
    let err = within(ms(1200), "CAPA", pop.capa())
        .await
        .expect_err("no reply");
    assert!(matches!(err, Error::Timeout(d) if d == ms(300)), "{err:?}");
    assert!(started.elapsed() >= ms(250), "gave up too early");
    let err = pop.capa().await.expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    let err = pop.user("alice").await.expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    let err = pop.stat().await.expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    let err = pop.quit().await.expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    server.join();
}

// ----- row 23: end of stream inside a body ---------------------------------------------------

const HALF_A_BODY: &str = "+OK 100 octets\r\nSubject: cut short\r\n\r\nhalf a bo";

fn assert_truncated(err: &Error) {
    assert!(
        matches!(
            err,
            Error::Protocol(RemoteError::Truncated {
                what: "a message body"
            })
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn row23_end_of_stream_inside_a_body_is_truncated() {
    // Plain FIN; TLS without close_notify (a truncation attack); TLS with close_notify.
    let cases = [
        (Via::Plain, Step::Close),
        (Via::Implicit, Step::Abort),
        (Via::Implicit, Step::Close),
    ];
    for (via, end) in cases {
        let server = Server::start(script(&[
            &via.prelude(),
            &greet_and_login(),
            &[expect("RETR 1"), send(HALF_A_BODY), end],
        ]));
        let mut pop = via.connector(&server).connect().await.expect("connect");
        pop.login("alice", "secret").await.expect("login");
        let mut sink = Vec::new();
        let err = pop.retr_to(msg(1), &mut sink).await.expect_err("cut short");
        assert_truncated(&err);
        assert!(sink.len() < 100, "{via:?}: {sink:?}");
        let err = pop.stat().await.expect_err("poisoned");
        assert!(matches!(err, Error::Closed(_)), "{via:?}: {err:?}");
        drop(pop); // a server closing TLS waits for our end of it
        server.join();
    }
}

#[tokio::test]
async fn row23_truncated_body_in_a_batch_never_ends() {
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[
            expect("CAPA"),
            send("+OK\r\nUSER\r\n.\r\n"),
            expect("RETR 1"),
            send(HALF_A_BODY),
            Step::Abort,
        ],
    ]));
    let mut pop = implicit(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    let mut ends = 0;
    let err = pop
        .retr_many(&[msg(1)], |_, part| {
            if let Part::End = part {
                ends += 1;
            }
            Ok(())
        })
        .await
        .expect_err("cut short");
    assert_truncated(&err);
    assert_eq!(ends, 0, "a truncated body was reported complete");
    drop(pop);
    server.join();
}

// ----- row 37: data after STLS's +OK ----------------------------------------------------------

const CAPA_STLS: &str = "+OK\r\nSTLS\r\nUSER\r\nX-PLAIN\r\n.\r\n";

/// Greeting, CAPA offering STLS, and the STLS command.
fn up_to_stls() -> Vec<Step> {
    vec![
        send(GREETING),
        expect("CAPA"),
        send(CAPA_STLS),
        expect("STLS"),
    ]
}

#[tokio::test]
async fn row37_injection_in_the_same_write_as_stls_ok_is_data_after_stls() {
    let server = Server::start(script(&[
        &up_to_stls(),
        &[
            send("+OK begin TLS\r\n+OK\r\n"),
            Step::ExpectEof, // no ClientHello, no QUIT
        ],
    ]));
    let err = starttls(&server).connect().await.expect_err("injection");
    match &err {
        Error::Protocol(RemoteError::DataAfterStls { data }) => {
            assert_eq!(data.as_bytes(), b"+OK\r\n")
        }
        other => panic!("{other:?}"),
    }
    server.join();
}

#[tokio::test]
async fn row37_injection_after_the_client_hello_fails_the_handshake() {
    // The injected line comes in a later write, once the client has started TLS: it reaches
    // rustls as a record, which is not one.
    let server = Server::start(script(&[
        &up_to_stls(),
        &[
            send("+OK begin TLS\r\n"),
            Step::RecvAny, // the ClientHello
            send("+OK\r\n"),
            Step::Drain,
        ],
    ]));
    let err = starttls(&server).connect().await.expect_err("injection");
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidMessage(_))),
        "{err:?}"
    );
    server.join();
}

// ----- row 38: TLS required and not available --------------------------------------------------

#[tokio::test]
async fn row38_tls_required_and_refused_sends_nothing_more() {
    let cases: [(&str, Vec<Step>); 3] = [
        (
            "CAPA refused",
            vec![
                send(GREETING),
                expect("CAPA"),
                send("-ERR no CAPA here\r\n"),
            ],
        ),
        (
            "no STLS in CAPA",
            vec![
                send(GREETING),
                expect("CAPA"),
                send("+OK\r\nUSER\r\nTOP\r\n.\r\n"),
            ],
        ),
        (
            "STLS refused",
            script(&[&up_to_stls(), &[send("-ERR [SYS/TEMP] not now\r\n")]]),
        ),
    ];
    for (case, steps) in cases {
        // No USER, no PASS, no QUIT, no retry: the server sees the end of the stream.
        let server = Server::start(script(&[&steps, &[Step::ExpectEof]]));
        let err = starttls(&server).connect().await.expect_err(case);
        assert!(matches!(err, Error::TlsRequired(_)), "{case}: {err:?}");
        server.join();
    }
}

// ----- row 40: STLS when TLS is already active ----------------------------------------------

fn assert_tls_already_active(err: &Error) {
    assert!(
        matches!(err, Error::Usage(LocalError::TlsAlreadyActive { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn row40_stls_on_implicit_tls_is_a_local_error_and_sends_nothing() {
    let server = Server::start(vec![
        tls(),
        send(GREETING),
        expect("CAPA"), // not STLS
        send("+OK\r\nUSER\r\n.\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = implicit(&server).connect().await.expect("connect");
    assert_tls_already_active(&pop.stls().await.expect_err("already TLS"));
    pop.capa().await.expect("the session goes on");
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

// ----- TLS verification and STLS ------------------------------------------------------------

#[tokio::test]
async fn implicit_tls_verifies_against_the_ca_file() {
    let pki = Pki::shared();
    let path =
        std::env::temp_dir().join(format!("pop3-tokio-scripted-ca-{}.pem", std::process::id()));
    std::fs::write(&path, pki.ca_pem()).expect("write the CA file");
    let server = Server::start(vec![
        tls(),
        send(GREETING),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let connector = Connector::new("localhost")
        .port(server.port())
        .ca_file(&path)
        .expect("CA file")
        .timeout(TIMEOUT);
    let _ = std::fs::remove_file(&path);
    let pop = connector.connect().await.expect("connect");
    assert!(pop.transport().is_tls());
    assert!(pop.session().is_tls());
    assert_eq!(
        pop.greeting().expect("greeting").status().text().as_bytes(),
        b"POP3 ready"
    );
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

#[tokio::test]
async fn implicit_tls_with_the_wrong_ca_is_a_tls_error() {
    let server = Server::start(vec![Step::TlsRejected(Pki::shared().server_config())]);
    let other_ca = Pki::generate();
    let err = implicit(&server)
        .tls_config(other_ca.client_config())
        .connect()
        .await
        .expect_err("untrusted certificate");
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    server.join();
}

#[tokio::test]
async fn stls_upgrades_and_only_the_capabilities_after_tls_count() {
    let server = Server::start(script(&[
        &up_to_stls(),
        &[
            send("+OK begin TLS\r\n"),
            tls(),
            expect("CAPA"),
            send("+OK\r\nUSER\r\nPIPELINING\r\nX-TLS\r\n.\r\n"),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = starttls(&server).connect().await.expect("connect");
    assert!(pop.transport().is_tls());
    assert!(pop.session().is_tls());
    let caps = pop
        .session()
        .capabilities()
        .expect("CAPA after TLS")
        .clone();
    assert!(caps.pipelining && caps.user && !caps.stls, "{caps:?}");
    let other: Vec<&[u8]> = caps.other.iter().map(|t| t.as_bytes()).collect();
    assert_eq!(other, [b"X-TLS".as_slice()]);
    // A second STLS: refused locally, nothing sent (the server expects QUIT next).
    assert_tls_already_active(&pop.stls().await.expect_err("second STLS"));
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

// ----- a TLS server dripping bytes ------------------------------------------------------------

#[tokio::test]
async fn a_tls_record_dripped_a_byte_at_a_time_cannot_outlast_the_reply_deadline() {
    let server = Server::drip_a_record(vec![tls(), send(GREETING), expect("CAPA")], 0x17);
    let mut pop = implicit(&server)
        .timeout(ms(400))
        .connect()
        .await
        .expect("connect");
    let err = within(ms(1400), "CAPA", pop.capa())
        .await
        .expect_err("the record never ends");
    assert!(matches!(err, Error::Timeout(d) if d == ms(400)), "{err:?}");
    drop(pop);
    server.join();
}

#[tokio::test]
async fn an_stls_handshake_dripped_a_byte_at_a_time_cannot_outlast_the_deadline() {
    let server = Server::drip_a_record(
        script(&[&up_to_stls(), &[send("+OK begin TLS\r\n"), Step::RecvAny]]),
        0x16,
    );
    let connecting = starttls(&server).timeout(ms(400)).connect();
    let err = within(ms(1400), "STLS", connecting)
        .await
        .expect_err("the handshake never ends");
    assert!(matches!(err, Error::Timeout(d) if d == ms(400)), "{err:?}");
    server.join();
}

#[tokio::test]
async fn a_tls_session_idle_past_its_timeout_goes_on() {
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[expect("STAT"), send("+OK 0 0\r\n"), Step::ExpectEof],
    ]));
    let mut pop = implicit(&server)
        .timeout(ms(200))
        .connect()
        .await
        .expect("connect");
    pop.login("alice", "secret").await.expect("login");
    tokio::time::sleep(ms(300)).await;
    let stat = pop.stat().await.expect("STAT after an idle spell");
    assert_eq!((stat.count, stat.size), (0, 0));
    drop(pop);
    server.join();
}

// ----- QUIT ----------------------------------------------------------------------------------

/// Logs in and marks message 1 deleted; `end` is what the server does next.
async fn login_and_dele(end: &[Step]) -> (Server, Pop3) {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("DELE 1"), send("+OK marked\r\n")],
        end,
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    pop.dele(msg(1)).await.expect("dele");
    (server, pop)
}

#[tokio::test]
async fn dropping_a_session_never_sends_quit() {
    let (server, pop) = login_and_dele(&[Step::ExpectEof]).await;
    drop(pop);
    server.join();
}

#[tokio::test]
async fn quit_outcomes() {
    type Check = fn(&QuitOutcome) -> bool;
    let cases: [(&str, Vec<Step>, Check); 3] = [
        (
            "+OK is committed and what follows is ignored",
            vec![send("+OK bye\r\n+OK extra\r\n"), Step::Close],
            |o| matches!(o, QuitOutcome::Committed(s) if s.text().as_bytes() == b"bye"),
        ),
        (
            "-ERR is not committed",
            vec![
                send("-ERR [SYS/TEMP] some deleted messages not removed\r\n"),
                Step::Close,
            ],
            |o| matches!(o, QuitOutcome::NotCommitted(s) if s.code() == Some(&ResponseCode::SysTemp)),
        ),
        ("no reply is unknown", vec![Step::Close], |o| {
            *o == QuitOutcome::Unknown
        }),
    ];
    for (case, reply, check) in cases {
        let (server, pop) = login_and_dele(&script(&[&[expect("QUIT")], &reply])).await;
        let outcome = pop.quit().await.expect(case);
        assert!(check(&outcome), "{case}: {outcome:?}");
        server.join();
    }
}

// ----- authorization ------------------------------------------------------------------------

#[tokio::test]
async fn in_use_to_pass_is_a_server_error_and_the_session_goes_on() {
    let server = Server::start(script(&[
        &[
            send(GREETING),
            expect("USER alice"),
            send("+OK\r\n"),
            expect("PASS secret"),
            send("-ERR [IN-USE] mailbox locked by another session\r\n"),
        ],
        &greet_and_login()[1..],
        &[
            expect("STAT"),
            send("+OK 2 320\r\n"),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    let err = pop.login("alice", "secret").await.expect_err("in use");
    match &err {
        Error::Server {
            command, status, ..
        } => {
            assert_eq!(*command, "PASS");
            assert_eq!(status.code(), Some(&ResponseCode::InUse));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_recoverable());
    pop.login("alice", "secret").await.expect("second try");
    let stat = pop.stat().await.expect("stat");
    assert_eq!((stat.count, stat.size), (2, 320));
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

#[tokio::test]
async fn refused_user_means_pass_is_never_sent() {
    // Not pipelining: after `-ERR` to USER the password must not go out. The server
    // expects QUIT next, not PASS.
    let server = Server::start(vec![
        send(GREETING),
        expect("USER alice"),
        send("-ERR no such user\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = plain(&server).connect().await.expect("connect");
    let err = pop
        .login("alice", "secret")
        .await
        .expect_err("unknown user");
    assert!(
        matches!(
            err,
            Error::Server {
                command: "USER",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

#[tokio::test]
async fn apop_over_plaintext_needs_allow_insecure_auth() {
    // RFC 1939's example; the first attempt must send nothing (the server expects APOP first).
    let server = Server::start(vec![
        send("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
        send("+OK mrose's maildrop has 2 messages (320 octets)\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = plain_strict(&server).connect().await.expect("connect");
    let err = pop.apop("mrose", "tanstaaf").await.expect_err("plaintext");
    assert!(matches!(err, Error::Insecure(_)), "{err:?}");
    pop.allow_insecure_auth(true);
    pop.apop("mrose", "tanstaaf").await.expect("apop");
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

// ----- bodies -------------------------------------------------------------------------------

#[tokio::test]
async fn dropped_retr_reader_then_stat_skips_the_rest_of_the_body() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[
            expect("RETR 1"),
            send("+OK 120 octets\r\nSubject: first half\r\n"),
            silence(100), // the client skips; it must not send STAT before the body ends
            send("\r\n..a stuffed line\r\nlast line\r\n.\r\n"),
            expect("STAT"),
            send("+OK 1 120\r\n"),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    let mut reader = pop.retr_reader(msg(1)).await.expect("retr");
    let mut start = [0u8; 8];
    reader.read_exact(&mut start).await.expect("read");
    assert_eq!(&start, b"Subject:");
    drop(reader);
    let stat = pop.stat().await.expect("stat after a dropped reader");
    assert_eq!((stat.count, stat.size), (1, 120));
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

#[tokio::test]
async fn retr_reader_reads_a_whole_body_byte_exact() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[
            expect("RETR 1"),
            send(body_reply(1)),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    let mut all = Vec::new();
    let mut reader = pop.retr_reader(msg(1)).await.expect("retr");
    reader.read_to_end(&mut all).await.expect("read");
    assert_eq!(all, body(1));
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

fn body_reply(n: u32) -> String {
    format!("+OK\r\nSubject: {n}\r\n\r\n..body {n}\r\n.\r\n")
}

fn body(n: u32) -> Vec<u8> {
    format!("Subject: {n}\r\n\r\n.body {n}\r\n").into_bytes()
}

/// `retr_many` over messages 1..=n, collecting each body and its End.
async fn retr_many(pop: &mut Pop3, n: u32) -> (Vec<Vec<u8>>, Vec<u32>, BatchReport) {
    let msgs: Vec<MsgNum> = (1..=n).map(msg).collect();
    let mut bodies = vec![Vec::new(); n as usize];
    let mut ended = Vec::new();
    let report = pop
        .retr_many(&msgs, |m, part| {
            match part {
                Part::Data(data) => bodies[m.get() as usize - 1].extend_from_slice(data),
                Part::End => ended.push(m.get()),
            }
            Ok(())
        })
        .await
        .expect("retr_many");
    (bodies, ended, report)
}

#[tokio::test]
async fn retr_many_pipelines_when_the_server_advertises_it() {
    // The server reads every RETR before answering any: a client waiting for replies
    // between commands would time out here.
    let server = Server::start(script(&[
        &greet_and_login(),
        &[
            expect("CAPA"),
            send("+OK\r\nUSER\r\nPIPELINING\r\n.\r\n"),
            expect("RETR 1"),
            expect("RETR 2"),
            expect("RETR 3"),
            send(format!(
                "{}{}-ERR no such message\r\n",
                body_reply(1),
                body_reply(2)
            )),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    let (bodies, ended, report) = retr_many(&mut pop, 3).await;
    assert_eq!(bodies, [body(1), body(2), Vec::new()]);
    assert_eq!(ended, [1, 2]);
    let done: Vec<(u32, u64)> = report.done.iter().map(|&(m, s)| (m.get(), s)).collect();
    assert_eq!(done, [(1, body(1).len() as u64), (2, body(2).len() as u64)]);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0, msg(3));
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

#[tokio::test]
async fn retr_many_goes_one_at_a_time_without_pipelining() {
    // After each RETR the server checks that nothing else arrives before it answers.
    let server = Server::start(script(&[
        &greet_and_login(),
        &[
            expect("CAPA"),
            send("+OK\r\nUSER\r\n.\r\n"),
            expect("RETR 1"),
            silence(100),
            send(body_reply(1)),
            expect("RETR 2"),
            silence(100),
            send(body_reply(2)),
            expect("QUIT"),
            send("+OK bye\r\n"),
            Step::Close,
        ],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    let (bodies, ended, report) = retr_many(&mut pop, 2).await;
    assert_eq!(bodies, [body(1), body(2)]);
    assert_eq!(ended, [1, 2]);
    assert_eq!(report.done.len(), 2);
    assert!(report.refused.is_empty());
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}

// ----- the procedures' rules, as this driver runs them -----------------------------------------

#[tokio::test]
async fn a_server_that_stalls_the_stls_handshake_times_out() {
    let server = Server::start(script(&[
        &up_to_stls(),
        &[
            send("+OK begin TLS\r\n"),
            Step::RecvAny, // the ClientHello, never answered
            Step::ExpectEof,
        ],
    ]));
    let err = starttls(&server)
        .timeout(ms(300))
        .connect()
        .await
        .expect_err("stalled handshake");
    assert!(matches!(err, Error::Timeout(d) if d == ms(300)), "{err:?}");
    server.join();
}

#[tokio::test]
async fn user_and_pass_over_plaintext_need_an_opt_in() {
    let server = Server::start(vec![send(GREETING), Step::ExpectEof]);
    let mut pop = plain_strict(&server).connect().await.expect("connect");
    let err = pop.login("alice", "secret").await.expect_err("plaintext");
    assert!(matches!(err, Error::Insecure(_)), "{err:?}");
    drop(pop);
    server.join();
}

#[tokio::test]
async fn a_stale_reply_never_passes_for_the_next_commands() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[send("+OK stale\r\n"), Step::ExpectEof],
    ]));
    let mut pop = plain(&server).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    tokio::time::sleep(ms(100)).await;
    let err = pop.quit().await.expect_err("unsolicited");
    assert!(
        matches!(err, Error::Protocol(RemoteError::Unsolicited { .. })),
        "{err:?}"
    );
    server.join();
}

#[tokio::test]
async fn quit_whose_reply_times_out_is_unknown_not_an_error() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("QUIT"), Step::Drain],
    ]));
    let mut pop = plain(&server)
        .timeout(ms(300))
        .connect()
        .await
        .expect("connect");
    pop.login("alice", "secret").await.expect("login");
    assert_eq!(pop.quit().await.expect("quit"), QuitOutcome::Unknown);
    server.join();
}

#[tokio::test]
async fn the_core_keepalive_goes_out_from_an_idle_session() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("NOOP"), send("+OK still here\r\n")],
        &[expect("QUIT"), send("+OK bye\r\n"), Step::Close],
    ]));
    let mut config = pop3_tokio::pop3_proto::Config::default();
    config.keepalive_interval = Some(ms(100));
    let mut pop = plain(&server)
        .session_config(config)
        .connect()
        .await
        .expect("connect");
    pop.login("alice", "secret").await.expect("login");
    tokio::time::sleep(ms(250)).await;
    pop.keep_alive().await.expect("keepalive");
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
}
