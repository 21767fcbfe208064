//! The blocking driver against a scripted server on loopback: the driver-level rows of
//! `shared/BAD-INPUT.md` (timeouts, end of stream, STLS), TLS verification, QUIT outcomes,
//! and the no-QUIT-on-drop and pipelining promises. Each test asserts the exact error.

mod support;

use pop3_blocking::pop3_proto::{
    Config, LocalError, LowSpeed, MsgNum, QuitOutcome, RemoteError, ResponseCode,
};
use pop3_blocking::{Connector, Error, Part, Pop3, TlsMode};
use std::io::Read;
use std::time::{Duration, Instant};
use support::{expect, send, silence, sleep, Pki, Server, Step};

/// The client's read/write timeout in tests that do not test timeouts: long enough for a
/// loaded machine, short enough that a broken test fails fast.
const TIMEOUT: Duration = Duration::from_millis(1500);

const GREETING: &str = "+OK POP3 ready\r\n";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
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

// ----- row 2: no greeting ------------------------------------------------------------------

fn assert_greeting_times_out(steps: Vec<Step>) {
    let server = Server::start(steps);
    let started = Instant::now();
    let err = plain(&server)
        .timeout(ms(300))
        .connect()
        .expect_err("no complete greeting");
    assert!(matches!(err, Error::Timeout(d) if d == ms(300)), "{err:?}");
    assert!(started.elapsed() >= ms(250), "gave up too early");
    server.join(); // the server saw nothing but the end of the stream
}

#[test]
fn row02_no_greeting_times_out() {
    assert_greeting_times_out(vec![Step::ExpectEof]);
}

#[test]
fn row02_half_a_greeting_then_silence_times_out() {
    assert_greeting_times_out(vec![send("+OK POP3 rea"), Step::ExpectEof]);
}

#[test]
fn timeout_poisons_the_session_and_nothing_more_is_sent() {
    // The server never answers CAPA; after the timeout the client must send nothing, not
    // even QUIT (a late reply could otherwise be taken for the answer to a later command).
    let server = Server::start(vec![send(GREETING), expect("CAPA"), Step::ExpectEof]);
    let mut pop = plain(&server).timeout(ms(300)).connect().expect("connect");
    let err = pop.capa().expect_err("no reply");
    assert!(matches!(err, Error::Timeout(d) if d == ms(300)), "{err:?}");
    let err = pop.capa().expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    let err = pop.user("alice").expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
    let err = pop.quit().expect_err("poisoned");
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

/// `retr_to` on a body the server cuts short: Truncated, never a size; then Closed.
fn assert_retr_to_truncated(mut pop: Pop3) {
    pop.login("alice", "secret").expect("login");
    let mut sink = Vec::new();
    let err = pop.retr_to(msg(1), &mut sink).expect_err("cut short");
    assert_truncated(&err);
    assert!(sink.len() < 100, "{sink:?}");
    let err = pop.stat().expect_err("poisoned");
    assert!(matches!(err, Error::Closed(_)), "{err:?}");
}

#[test]
fn row23_eof_inside_a_body_is_truncated() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("RETR 1"), send(HALF_A_BODY), Step::Close],
    ]));
    assert_retr_to_truncated(plain(&server).connect().expect("connect"));
    server.join();
}

#[test]
fn row23_tls_eof_without_close_notify_inside_a_body_is_truncated() {
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[expect("RETR 1"), send(HALF_A_BODY), Step::Abort],
    ]));
    assert_retr_to_truncated(implicit(&server).connect().expect("connect"));
    server.join();
}

#[test]
fn row23_tls_close_notify_inside_a_body_is_truncated_too() {
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[expect("RETR 1"), send(HALF_A_BODY), Step::Close],
    ]));
    assert_retr_to_truncated(implicit(&server).connect().expect("connect"));
    server.join();
}

#[test]
fn row23_truncated_body_in_a_batch_never_ends() {
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
    let mut pop = implicit(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let mut ends = 0;
    let err = pop
        .retr_many(&[msg(1)], |_, part| {
            if let Part::End = part {
                ends += 1;
            }
            Ok(())
        })
        .expect_err("cut short");
    assert_truncated(&err);
    assert_eq!(ends, 0, "a truncated body was reported complete");
    server.join();
}

// ----- row 37: data after STLS's +OK ----------------------------------------------------------

const CAPA_STLS: &str = "+OK\r\nSTLS\r\nUSER\r\nX-PLAIN\r\n.\r\n";

/// Greeting, CAPA offering STLS, and the STLS command: what comes before the server's answer.
fn up_to_stls() -> Vec<Step> {
    vec![
        send(GREETING),
        expect("CAPA"),
        send(CAPA_STLS),
        expect("STLS"),
    ]
}

#[test]
fn row37_injection_in_the_same_write_as_stls_ok_is_data_after_stls() {
    let server = Server::start(script(&[
        &up_to_stls(),
        &[
            send("+OK begin TLS\r\n+OK\r\n"),
            Step::ExpectEof, // no ClientHello, no QUIT
        ],
    ]));
    let err = starttls(&server).connect().expect_err("injection");
    match &err {
        Error::Protocol(RemoteError::DataAfterStls { data }) => {
            assert_eq!(data.as_bytes(), b"+OK\r\n")
        }
        other => panic!("{other:?}"),
    }
    server.join();
}

#[test]
fn row37_injection_after_the_client_hello_fails_the_handshake() {
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
    let err = starttls(&server).connect().expect_err("injection");
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidMessage(_))),
        "{err:?}"
    );
    server.join();
}

// ----- row 38: TLS required and not available --------------------------------------------------

fn assert_tls_required(steps: Vec<Step>) {
    let server = Server::start(steps);
    let err = starttls(&server).connect().expect_err("no TLS");
    assert!(matches!(err, Error::TlsRequired(_)), "{err:?}");
    server.join(); // ends in ExpectEof: no USER, no PASS, no QUIT, no retry
}

#[test]
fn row38_capa_refused_means_tls_required() {
    assert_tls_required(vec![
        send(GREETING),
        expect("CAPA"),
        send("-ERR no CAPA here\r\n"),
        Step::ExpectEof,
    ]);
}

#[test]
fn row38_no_stls_in_capa_means_tls_required() {
    assert_tls_required(vec![
        send(GREETING),
        expect("CAPA"),
        send("+OK\r\nUSER\r\nTOP\r\n.\r\n"),
        Step::ExpectEof,
    ]);
}

#[test]
fn row38_stls_refused_means_tls_required() {
    assert_tls_required(vec![
        send(GREETING),
        expect("CAPA"),
        send(CAPA_STLS),
        expect("STLS"),
        send("-ERR [SYS/TEMP] not now\r\n"),
        Step::ExpectEof,
    ]);
}

// ----- row 40: STLS when TLS is already active ----------------------------------------------

#[test]
fn row40_stls_on_implicit_tls_is_a_local_error_and_sends_nothing() {
    let server = Server::start(vec![
        tls(),
        send(GREETING),
        expect("CAPA"), // not STLS
        send("+OK\r\nUSER\r\n.\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = implicit(&server).connect().expect("connect");
    let err = pop.stls().expect_err("already TLS");
    assert!(
        matches!(err, Error::Usage(LocalError::TlsAlreadyActive { .. })),
        "{err:?}"
    );
    pop.capa().expect("the session goes on");
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

// ----- TLS verification and STLS ------------------------------------------------------------

#[test]
fn implicit_tls_verifies_against_the_ca_file() {
    let pki = Pki::shared();
    let path = std::env::temp_dir().join(format!("pop3-scripted-ca-{}.pem", std::process::id()));
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
    let pop = connector.connect().expect("connect");
    assert!(pop.transport().is_tls());
    assert!(pop.session().is_tls());
    assert_eq!(
        pop.greeting().expect("greeting").status().text().as_bytes(),
        b"POP3 ready"
    );
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn implicit_tls_with_the_wrong_ca_is_a_tls_error() {
    let server = Server::start(vec![Step::TlsRejected(Pki::shared().server_config())]);
    let other_ca = Pki::generate();
    let err = implicit(&server)
        .tls_config(other_ca.client_config())
        .connect()
        .expect_err("untrusted certificate");
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{err:?}"
    );
    server.join();
}

#[test]
fn stls_upgrades_and_only_the_capabilities_after_tls_count() {
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
    let mut pop = starttls(&server).connect().expect("connect");
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
    let err = pop.stls().expect_err("second STLS");
    assert!(
        matches!(err, Error::Usage(LocalError::TlsAlreadyActive { .. })),
        "{err:?}"
    );
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

// ----- a TLS server dripping bytes ------------------------------------------------------------

#[test]
fn a_tls_record_dripped_a_byte_at_a_time_cannot_outlast_the_reply_deadline() {
    // rustls reads until a whole record is there, inside one read of the stream: each byte
    // arrives well within 400 ms, but the reply's deadline bounds the wait as a whole.
    let server = Server::drip_a_record(vec![tls(), send(GREETING), expect("CAPA")], 0x17);
    let mut pop = implicit(&server)
        .timeout(ms(400))
        .connect()
        .expect("connect");
    let err = pop.capa().expect_err("the record never ends");
    assert!(matches!(err, Error::Timeout(d) if d == ms(400)), "{err:?}");
    drop(pop);
    server.join();
}

#[test]
fn an_stls_handshake_dripped_a_byte_at_a_time_cannot_outlast_the_deadline() {
    let server = Server::drip_a_record(
        script(&[&up_to_stls(), &[send("+OK begin TLS\r\n"), Step::RecvAny]]),
        0x16,
    );
    let err = starttls(&server)
        .timeout(ms(400))
        .connect()
        .expect_err("the handshake never ends");
    assert!(matches!(err, Error::Timeout(d) if d == ms(400)), "{err:?}");
    server.join();
}

#[test]
fn a_tls_session_idle_past_its_timeout_goes_on() {
    // Between commands nothing is awaited, so no deadline runs: the look for unsolicited
    // input before the next command must not be bounded by the last reply's deadline.
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[expect("STAT"), send("+OK 0 0\r\n"), Step::ExpectEof],
    ]));
    let mut pop = implicit(&server)
        .timeout(ms(200))
        .connect()
        .expect("connect");
    pop.login("alice", "secret").expect("login");
    std::thread::sleep(ms(300));
    let stat = pop.stat().expect("STAT after an idle spell");
    assert_eq!((stat.count, stat.size), (0, 0));
    drop(pop);
    server.join();
}

// ----- QUIT ----------------------------------------------------------------------------------

#[test]
fn dropping_a_session_never_sends_quit() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("DELE 1"), send("+OK marked\r\n"), Step::ExpectEof],
    ]));
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    pop.dele(msg(1)).expect("dele");
    drop(pop);
    server.join();
}

fn quit_with(reply: Vec<Step>) -> QuitOutcome {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("DELE 1"), send("+OK marked\r\n"), expect("QUIT")],
        &reply,
    ]));
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    pop.dele(msg(1)).expect("dele");
    let outcome = pop.quit().expect("quit");
    server.join();
    outcome
}

#[test]
fn quit_ok_is_committed_and_what_follows_is_ignored() {
    let outcome = quit_with(vec![send("+OK bye\r\n+OK extra\r\n"), Step::Close]);
    match outcome {
        QuitOutcome::Committed(status) => assert_eq!(status.text().as_bytes(), b"bye"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn quit_err_is_not_committed() {
    let outcome = quit_with(vec![
        send("-ERR [SYS/TEMP] some deleted messages not removed\r\n"),
        Step::Close,
    ]);
    match outcome {
        QuitOutcome::NotCommitted(status) => {
            assert_eq!(status.code(), Some(&ResponseCode::SysTemp))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn quit_without_reply_is_unknown() {
    assert_eq!(quit_with(vec![Step::Close]), QuitOutcome::Unknown);
}

// ----- authorization ------------------------------------------------------------------------

#[test]
fn in_use_to_pass_is_a_server_error_and_the_session_goes_on() {
    let server = Server::start(vec![
        send(GREETING),
        expect("USER alice"),
        send("+OK\r\n"),
        expect("PASS secret"),
        send("-ERR [IN-USE] mailbox locked by another session\r\n"),
        expect("USER alice"),
        send("+OK\r\n"),
        expect("PASS secret"),
        send("+OK logged in\r\n"),
        expect("STAT"),
        send("+OK 2 320\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = plain(&server).connect().expect("connect");
    let err = pop.login("alice", "secret").expect_err("in use");
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
    pop.login("alice", "secret").expect("second try");
    let stat = pop.stat().expect("stat");
    assert_eq!((stat.count, stat.size), (2, 320));
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn refused_user_means_pass_is_never_sent() {
    // Not pipelining: after `-ERR` to USER the password must not go out (RFC 1939 allows
    // only a new USER/APOP/AUTH or QUIT there). The server expects QUIT next, not PASS.
    let server = Server::start(vec![
        send(GREETING),
        expect("USER alice"),
        send("-ERR no such user\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = plain(&server).connect().expect("connect");
    let err = pop.login("alice", "secret").expect_err("unknown user");
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
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn apop_over_plaintext_needs_allow_insecure_auth() {
    // RFC 1939's example; the first attempt must send nothing (the server expects APOP first).
    let server = Server::start(vec![
        send("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
        expect("APOP mrose c4c9334bac560ecc979e58001b3e22fb"),
        send("+OK mrose's maildrop has 2 messages (320 octets)\r\n"),
        expect("QUIT"),
        send("+OK bye\r\n"),
        Step::Close,
    ]);
    let mut pop = plain_strict(&server).connect().expect("connect");
    let err = pop.apop("mrose", "tanstaaf").expect_err("plaintext");
    assert!(matches!(err, Error::Insecure(_)), "{err:?}");
    pop.allow_insecure_auth(true);
    pop.apop("mrose", "tanstaaf").expect("apop");
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

// ----- bodies -------------------------------------------------------------------------------

#[test]
fn dropped_retr_reader_then_stat_skips_the_rest_of_the_body() {
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
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let mut reader = pop.retr_reader(msg(1)).expect("retr");
    let mut start = [0u8; 8];
    reader.read_exact(&mut start).expect("read");
    assert_eq!(&start, b"Subject:");
    drop(reader);
    let stat = pop.stat().expect("stat after a dropped reader");
    assert_eq!((stat.count, stat.size), (1, 120));
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

fn body_reply(n: u32) -> String {
    format!("+OK\r\nSubject: {n}\r\n\r\n..body {n}\r\n.\r\n")
}

fn body(n: u32) -> Vec<u8> {
    format!("Subject: {n}\r\n\r\n.body {n}\r\n").into_bytes()
}

/// `retr_many` over messages 1..=n, collecting each body and its End.
fn retr_many(pop: &mut Pop3, n: u32) -> (Vec<Vec<u8>>, Vec<u32>, pop3_blocking::BatchReport) {
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
        .expect("retr_many");
    (bodies, ended, report)
}

#[test]
fn retr_many_pipelines_when_the_server_advertises_it() {
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
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let (bodies, ended, report) = retr_many(&mut pop, 3);
    assert_eq!(bodies, [body(1), body(2), Vec::new()]);
    assert_eq!(ended, [1, 2]);
    let done: Vec<(u32, u64)> = report.done.iter().map(|&(m, s)| (m.get(), s)).collect();
    assert_eq!(done, [(1, body(1).len() as u64), (2, body(2).len() as u64)]);
    assert_eq!(report.refused.len(), 1);
    assert_eq!(report.refused[0].0, msg(3));
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn retr_many_goes_one_at_a_time_without_pipelining() {
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
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let (bodies, ended, report) = retr_many(&mut pop, 2);
    assert_eq!(bodies, [body(1), body(2)]);
    assert_eq!(ended, [1, 2]);
    assert_eq!(report.done.len(), 2);
    assert!(report.refused.is_empty());
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

// ----- the procedures' rules, as this driver runs them -----------------------------------------

/// A plaintext connector with these core settings and no reply timeout of its own, so only
/// the core's deadlines can fire.
fn with_core(server: &Server, config: Config) -> Connector {
    plain(server).timeout(None).session_config(config)
}

#[test]
fn the_core_response_timeout_applies_without_a_driver_timeout() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("STAT"), silence(200), Step::ExpectEof],
    ]));
    let mut config = Config::default();
    config.response_timeout = Some(ms(300));
    let mut pop = with_core(&server, config).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let err = pop.stat().expect_err("no reply");
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    drop(pop);
    server.join();
}

#[test]
fn the_core_keepalive_goes_out_from_an_idle_blocking_session() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("NOOP"), send("+OK still here\r\n")],
        &[expect("QUIT"), send("+OK bye\r\n"), Step::Close],
    ]));
    let mut config = Config::default();
    config.keepalive_interval = Some(ms(100));
    let mut pop = with_core(&server, config).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    std::thread::sleep(ms(250));
    pop.keep_alive().expect("keepalive");
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn a_trickling_server_trips_the_low_speed_limit() {
    // A byte every 100 ms resets any reply timeout; the low-speed limit still fires.
    let trickle: Vec<Step> = (0..8).flat_map(|_| [send("x"), sleep(100)]).collect();
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("RETR 1"), send("+OK\r\n")],
        &trickle,
        &[Step::ExpectEof],
    ]));
    let mut config = Config::default();
    config.response_timeout = Some(ms(1000));
    config.low_speed = Some(LowSpeed {
        bytes_per_second: 100,
        time: ms(300),
    });
    let mut pop = with_core(&server, config).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    let err = pop.retr_to(msg(1), &mut Vec::new()).expect_err("too slow");
    assert!(
        matches!(err, Error::Protocol(RemoteError::TooSlow { .. })),
        "{err:?}"
    );
    std::thread::sleep(ms(1000)); // let the server finish trickling before we hang up
    drop(pop);
    server.join();
}

#[test]
fn user_and_pass_over_plaintext_need_an_opt_in() {
    let server = Server::start(vec![send(GREETING), Step::ExpectEof]);
    let mut pop = plain_strict(&server).connect().expect("connect");
    for err in [
        pop.login("alice", "secret").expect_err("plaintext"),
        pop.user("alice").expect_err("plaintext"),
        pop.pass("secret").expect_err("plaintext"),
    ] {
        assert!(matches!(err, Error::Insecure(_)), "{err:?}");
    }
    drop(pop);
    server.join();
}

#[test]
fn the_greeting_is_forgotten_after_stls() {
    let server = Server::start(vec![
        send("+OK POP3 ready <1.2@example>\r\n"),
        expect("CAPA"),
        send(CAPA_STLS),
        expect("STLS"),
        send("+OK begin TLS\r\n"),
        tls(),
        expect("CAPA"),
        send("+OK\r\nUSER\r\n.\r\n"),
        Step::ExpectEof,
    ]);
    let mut pop = starttls(&server).connect().expect("connect");
    assert!(pop.session().is_tls());
    assert!(pop.greeting().is_none(), "{:?}", pop.greeting());
    let err = pop
        .apop("mrose", "tanstaaf")
        .expect_err("no timestamp any more");
    assert!(
        matches!(err, Error::Usage(LocalError::NoApopTimestamp)),
        "{err:?}"
    );
    drop(pop);
    server.join();
}

#[test]
fn collected_replies_are_bounded_and_the_session_goes_on() {
    let body = "+OK\r\n0123456789012345678901234567890123456789\r\n.\r\n";
    let listing = "+OK\r\n1 42\r\n2 42\r\n3 42\r\n.\r\n";
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("RETR 1"), send(body), expect("LIST"), send(listing)],
        &[expect("LIST"), send(listing), expect("RETR 1"), send(body)],
        &[expect("QUIT"), send("+OK bye\r\n"), Step::Close],
    ]));
    let mut config = Config::default();
    config.max_collected_body = 10;
    config.max_collected_entries = 2;
    let mut pop = plain(&server)
        .session_config(config)
        .connect()
        .expect("connect");
    pop.login("alice", "secret").expect("login");
    let err = pop.retr(msg(1)).expect_err("body over the limit");
    assert!(
        matches!(err, Error::TooLarge { command: "RETR", limit: 10, streaming, .. } if streaming.contains("retr_to")),
        "{err:?}"
    );
    let err = pop.list().expect_err("listing over the limit");
    assert!(
        matches!(
            err,
            Error::TooLarge {
                command: "LIST",
                limit: 2,
                ..
            }
        ),
        "{err}"
    );
    let mut entries = 0;
    let counted = pop.list_each(|_| {
        entries += 1;
        Ok(())
    });
    assert_eq!(counted.expect("list_each"), 3);
    assert_eq!(entries, 3);
    let mut sink = Vec::new();
    assert_eq!(pop.retr_to(msg(1), &mut sink).expect("retr_to"), 42);
    assert!(pop.quit().expect("quit").is_committed());
    server.join();
}

#[test]
fn a_stale_reply_never_passes_for_the_next_commands() {
    // The server answers nothing and then says +OK: had QUIT gone out first, that +OK would
    // have been taken for its reply, and deletions reported as committed.
    let server = Server::start(script(&[
        &greet_and_login(),
        &[send("+OK stale\r\n"), Step::ExpectEof],
    ]));
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    std::thread::sleep(ms(100));
    let err = pop.quit().expect_err("unsolicited");
    assert!(
        matches!(err, Error::Protocol(RemoteError::Unsolicited { .. })),
        "{err:?}"
    );
    server.join();
}

#[test]
fn quit_whose_reply_times_out_is_unknown_not_an_error() {
    let server = Server::start(script(&[
        &greet_and_login(),
        &[expect("DELE 1"), send("+OK marked\r\n"), expect("QUIT")],
        &[Step::Drain],
    ]));
    let mut pop = plain(&server).timeout(ms(300)).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    pop.dele(msg(1)).expect("dele");
    assert_eq!(pop.session().marked_deleted().collect::<Vec<_>>(), [msg(1)]);
    assert_eq!(pop.quit().expect("quit"), QuitOutcome::Unknown);
    server.join();
}

#[test]
fn quit_cut_by_a_tls_close_without_close_notify_is_unknown() {
    let server = Server::start(script(&[
        &[tls()],
        &greet_and_login(),
        &[expect("QUIT"), Step::Abort],
    ]));
    let mut pop = implicit(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    assert_eq!(pop.quit().expect("quit"), QuitOutcome::Unknown);
    server.join();
}

#[test]
fn a_stale_reply_in_its_own_segment_never_passes_for_the_next_commands() {
    // As above, but the stale +OK arrives well after the login's last read.
    let server = Server::start(script(&[
        &greet_and_login(),
        &[sleep(50), send("+OK stale\r\n"), Step::ExpectEof],
    ]));
    let mut pop = plain(&server).connect().expect("connect");
    pop.login("alice", "secret").expect("login");
    std::thread::sleep(ms(200));
    let err = pop.quit().expect_err("unsolicited");
    assert!(
        matches!(err, Error::Protocol(RemoteError::Unsolicited { .. })),
        "{err:?}"
    );
    server.join();
}
