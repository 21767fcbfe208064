//! Cancel safety, `Send`, and the no-deadlock promise of the Tokio driver, against a
//! loopback mailbox server (the blocking crate's scripted server, handing the connection
//! to a small POP3 state machine that answers whatever the client sends and logs it).
//!
//! A cancelled call is a dropped future. Every cancellation below is followed by calls that
//! must return exactly the right data (replies never out of step with commands), and the
//! server's log must show that nothing but those commands was sent — never QUIT.

#[path = "../../pop3-blocking/tests/support/mod.rs"]
mod support;

use pop3_tokio::pop3_proto::{Config, MsgNum, SessionState};
use pop3_tokio::{Connector, Error, Part, Pop3, TlsMode, Transport};
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use support::{expect, send, sleep, Conn, Pki, Server, Step};

/// The client's reply timeout: long enough for a loaded machine.
const TIMEOUT: Duration = Duration::from_millis(1500);

/// Slow replies go out in pieces of this many bytes (odd, so that cuts land everywhere:
/// inside CRLF, between a stuffing dot and its line, inside the terminator)...
const PIECE: usize = 97;
/// ...with this pause after each piece.
const PAUSE: Duration = Duration::from_micros(500);

/// Messages in the cancel tests' mailbox. 1 and 3 are long and dribbled; the rest short.
const COUNT: u32 = 150;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn msg(n: u32) -> MsgNum {
    MsgNum::new(n).expect("non-zero")
}

// ----- the mailbox ---------------------------------------------------------------------------

fn is_slow(n: u32) -> bool {
    n == 1 || n == 3
}

/// Message `n` as stored. The slow ones (~2.6 KB and ~0.9 KB) are lines that need
/// dot-stuffing, a lone dot, bare CR and LF, and 8-bit bytes.
fn body(n: u32) -> Vec<u8> {
    if !is_slow(n) {
        return format!("Subject: {n}\r\n\r\n.body of {n}\r\n").into_bytes();
    }
    let mut body = format!("Subject: message {n}\r\nX-Filler: yes\r\n\r\n").into_bytes();
    let lines = if n == 1 { 180 } else { 60 };
    for i in 0..lines {
        match i % 6 {
            0 => body.extend_from_slice(format!(".leading dot {i}\r\n").as_bytes()),
            1 => body.extend_from_slice(b".\r\n"),
            2 => body.extend_from_slice(format!("bare\nLF and bare\rCR {i}\r\n").as_bytes()),
            3 => body.extend_from_slice(b"..two dots\r\n"),
            4 => body.extend_from_slice(&[0xC3, 0xA9, 0xFF, 0x00, b'\r', b'\n']),
            _ => body.extend_from_slice(format!("line {i} of message {n}\r\n").as_bytes()),
        }
    }
    body
}

/// Dot-stuffs a body that ends in CRLF and adds the terminator (written here, not taken
/// from the core, so that the test does not trust the code under test).
fn stuffed(body: &[u8]) -> Vec<u8> {
    assert!(body.ends_with(b"\r\n"));
    let mut out = Vec::with_capacity(body.len() + 64);
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b".") {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

fn total_size() -> u64 {
    (1..=COUNT).map(|n| body(n).len() as u64).sum()
}

/// `+OK` to LIST, with the listing.
fn listing() -> Vec<u8> {
    let mut out = format!("+OK {COUNT} messages\r\n").into_bytes();
    for n in 1..=COUNT {
        out.extend_from_slice(format!("{n} {}\r\n", body(n).len()).as_bytes());
    }
    out.extend_from_slice(b".\r\n");
    out
}

/// How the mailbox server behaves.
#[derive(Clone)]
struct Mailbox {
    /// Messages in the mailbox.
    count: u32,
    /// Whether CAPA lists PIPELINING.
    pipelining: bool,
    /// Wait this long before answering USER and PASS.
    login_delay: Duration,
    /// RETR replies; `None` for the cancel tests' mailbox ([`body`]).
    retr: Option<fn(u32) -> Vec<u8>>,
}

impl Mailbox {
    /// The cancel tests' mailbox.
    fn small(pipelining: bool) -> Self {
        Self {
            count: COUNT,
            pipelining,
            login_delay: Duration::ZERO,
            retr: None,
        }
    }
}

/// What the server received, command by command.
type Log = Arc<Mutex<Vec<String>>>;

/// Starts the mailbox server (implicit TLS if `tls`) on `listener`.
fn start_on(listener: std::net::TcpListener, mailbox: Mailbox, tls: bool) -> (Server, Log) {
    let log = Log::default();
    let prelude = if tls {
        vec![Step::Tls(Pki::shared().server_config())]
    } else {
        vec![]
    };
    let server_log = log.clone();
    let server = Server::start_on(listener, prelude, move |conn, pending| {
        serve(conn, pending, &mailbox, &server_log)
    });
    (server, log)
}

fn start(mailbox: Mailbox, tls: bool) -> (Server, Log) {
    start_on(support::listener(), mailbox, tls)
}

fn commands(log: &Log) -> Vec<String> {
    log.lock().expect("log").clone()
}

/// Reads one command line; `None` at the end of the stream. Reads at most 64 bytes at a
/// time, so that what the client sent and we have not handled stays in the kernel.
fn read_line(conn: &mut Conn, pending: &mut Vec<u8>) -> Option<String> {
    loop {
        if let Some(end) = pending.windows(2).position(|w| w == b"\r\n") {
            let line: Vec<u8> = pending.drain(..end + 2).take(end).collect();
            return Some(String::from_utf8(line).expect("a command is ASCII"));
        }
        let mut buf = [0u8; 64];
        match conn.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                panic!("mailbox server: the client went silent; had {pending:?}")
            }
            // A reset or a TLS close without close_notify: the client is gone.
            Err(_) => return None,
        }
    }
}

/// Writes `data`, in pieces with pauses if `slow`. False if the client has gone.
fn put(conn: &mut Conn, data: &[u8], slow: bool) -> bool {
    let piece = if slow { PIECE } else { data.len().max(1) };
    for chunk in data.chunks(piece) {
        if conn.write_all(chunk).and_then(|()| conn.flush()).is_err() {
            return false;
        }
        if slow {
            std::thread::sleep(PAUSE);
        }
    }
    true
}

/// A POP3 server over one connection: greets, logs and answers every command until QUIT
/// or the end of the stream.
fn serve(mut conn: Conn, mut pending: Vec<u8>, mailbox: &Mailbox, log: &Mutex<Vec<String>>) {
    if !put(&mut conn, b"+OK mailbox ready\r\n", false) {
        return;
    }
    let (mut user, mut logged_in) = (false, false);
    while let Some(line) = read_line(&mut conn, &mut pending) {
        log.lock().expect("log").push(line.clone());
        let mut words = line.split(' ');
        let keyword = words.next().unwrap_or_default();
        let arg: Option<u32> = words.next().and_then(|a| a.parse().ok());
        let (reply, slow): (Vec<u8>, bool) = match (keyword, arg) {
            ("CAPA", None) => {
                let pipelining = if mailbox.pipelining {
                    "PIPELINING\r\n"
                } else {
                    ""
                };
                (format!("+OK\r\nUSER\r\n{pipelining}.\r\n").into(), false)
            }
            ("USER", _) => {
                std::thread::sleep(mailbox.login_delay);
                user = !logged_in;
                let reply: &[u8] = if logged_in {
                    b"-ERR already logged in\r\n"
                } else {
                    b"+OK\r\n"
                };
                (reply.into(), false)
            }
            ("PASS", _) => {
                std::thread::sleep(mailbox.login_delay);
                let ok = user && !logged_in && line == "PASS secret";
                logged_in |= ok;
                let reply: &[u8] = if ok {
                    b"+OK logged in\r\n"
                } else {
                    b"-ERR no\r\n"
                };
                (reply.into(), false)
            }
            ("QUIT", None) => {
                put(&mut conn, b"+OK bye\r\n", false);
                if let Conn::Tls(tls) = &mut conn {
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                }
                return;
            }
            _ if !logged_in => (b"-ERR log in first\r\n".to_vec(), false),
            ("STAT", None) => {
                let size: u64 = match mailbox.retr {
                    None => total_size(),
                    Some(_) => 0,
                };
                (format!("+OK {} {size}\r\n", mailbox.count).into(), false)
            }
            ("LIST", None) => (listing(), true),
            ("RETR", Some(n)) if (1..=mailbox.count).contains(&n) => match mailbox.retr {
                Some(retr) => (retr(n), false),
                None => {
                    let body = body(n);
                    let mut reply = format!("+OK {} octets\r\n", body.len()).into_bytes();
                    reply.extend_from_slice(&stuffed(&body));
                    (reply, is_slow(n))
                }
            },
            ("RETR", Some(_)) => (b"-ERR no such message\r\n".to_vec(), false),
            ("NOOP", None) => (b"+OK\r\n".to_vec(), false),
            ("DELE", Some(n)) if (1..=mailbox.count).contains(&n) => {
                (b"+OK marked\r\n".to_vec(), false)
            }
            ("RSET", None) => (b"+OK\r\n".to_vec(), false),
            _ => (b"-ERR unknown command\r\n".to_vec(), false),
        };
        if !put(&mut conn, &reply, slow) {
            return;
        }
    }
}

// ----- the client side -----------------------------------------------------------------------

fn connector(server: &Server, tls: bool) -> Connector {
    let connector = Connector::new("127.0.0.1")
        .port(server.port())
        .timeout(TIMEOUT);
    if tls {
        connector.tls_config(Pki::shared().client_config())
    } else {
        connector
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true)
    }
}

async fn login(server: &Server, tls: bool) -> Pop3 {
    let mut pop = connector(server, tls).connect().await.expect("connect");
    pop.login("alice", "secret").await.expect("login");
    pop
}

/// Where a call is cut short.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// `tokio::time::timeout` of this length.
    After(Duration),
    /// Dropped when woken after this many polls (0: never polled, so nothing was sent).
    Polls(usize),
}

/// Runs `future` until `cut`: its output if it completed, `None` if it was dropped, and how
/// often it was polled.
async fn run<F: Future>(cut: Cut, future: F) -> (Option<F::Output>, usize) {
    let mut future = pin!(future);
    let mut polls = 0;
    let limit = match cut {
        Cut::After(_) => usize::MAX,
        Cut::Polls(k) => k,
    };
    let counted = poll_fn(|cx| {
        if polls == limit {
            return Poll::Ready(None);
        }
        polls += 1;
        future.as_mut().poll(cx).map(Some)
    });
    let output = match cut {
        Cut::After(time) => tokio::time::timeout(time, counted).await.ok().flatten(),
        Cut::Polls(_) => counted.await,
    };
    (output, polls)
}

/// The calls after every cancellation, with what the server must see for them: STAT and a
/// (fast) RETR must return exactly the right data.
async fn check_in_step(pop: &mut Pop3, expected_log: &mut Vec<String>) {
    let stat = pop.stat().await.expect("STAT after a cancelled call");
    assert_eq!((stat.count, stat.size), (COUNT, total_size()));
    let two = pop.retr(msg(2)).await.expect("RETR after a cancelled call");
    assert_eq!(two, body(2), "message 2 after a cancelled call");
    expected_log.extend(["STAT".to_string(), "RETR 2".to_string()]);
}

/// QUIT must be the first QUIT the server saw, and the log exactly as expected.
async fn quit_and_check_log(pop: Pop3, server: Server, log: &Log, mut expected: Vec<String>) {
    assert!(pop.quit().await.expect("quit").is_committed());
    server.join();
    expected.push("QUIT".into());
    assert_eq!(commands(log), expected);
}

fn login_log() -> Vec<String> {
    vec!["USER alice".into(), "PASS secret".into()]
}

/// What a sweep of cancellations saw.
#[derive(Debug, Default)]
struct Sweep {
    steps: usize,
    /// Cancelled with part of the reply delivered.
    cut_midway: usize,
}

/// Cancels `retr_to(1)` at each cut in turn on one session, until a call completes; after
/// each, checks the delivered bytes and the next calls.
async fn sweep_retr_to(
    pop: &mut Pop3,
    cuts: impl Iterator<Item = Cut>,
    expected_log: &mut Vec<String>,
) -> Sweep {
    let want = body(1);
    let mut sweep = Sweep::default();
    for cut in cuts {
        sweep.steps += 1;
        let mut sink = Vec::new();
        let (output, polls) = run(cut, pop.retr_to(msg(1), &mut sink)).await;
        if polls > 0 {
            expected_log.push("RETR 1".into());
        }
        let done = output.is_some();
        match output {
            Some(size) => {
                let size = size.expect("retr_to");
                assert_eq!(sink, want, "{cut:?}: wrong body");
                assert_eq!(size, want.len() as u64, "{cut:?}");
            }
            None => {
                assert!(want.starts_with(&sink), "{cut:?}: wrong data delivered");
                if !sink.is_empty() {
                    sweep.cut_midway += 1;
                }
            }
        }
        check_in_step(pop, expected_log).await;
        if done {
            return sweep;
        }
    }
    panic!("retr_to never completed: {sweep:?}");
}

fn every_ms() -> impl Iterator<Item = Cut> {
    (0..500).map(|t| Cut::After(ms(t)))
}

// ----- retr_to -------------------------------------------------------------------------------

#[tokio::test]
async fn retr_to_cancelled_at_every_millisecond_on_one_connection() {
    for tls in [false, true] {
        let (server, log) = start(Mailbox::small(false), tls);
        let mut pop = login(&server, tls).await;
        let mut expected = login_log();
        let sweep = sweep_retr_to(&mut pop, every_ms(), &mut expected).await;
        assert!(
            sweep.cut_midway > 0,
            "tls {tls}: never cut inside the body: {sweep:?}"
        );
        quit_and_check_log(pop, server, &log, expected).await;
    }
}

#[tokio::test]
async fn retr_to_cancelled_at_every_wakeup_on_one_connection() {
    // Deterministic: every await point of the call, from "never polled" to complete.
    let (server, log) = start(Mailbox::small(true), false);
    let mut pop = login(&server, false).await;
    pop.capa().await.expect("capa"); // pipelining on: STAT goes out behind the cut RETR
    assert!(pop.session().is_pipelining());
    let mut expected = login_log();
    expected.push("CAPA".into());
    let sweep = sweep_retr_to(&mut pop, (0..1000).map(Cut::Polls), &mut expected).await;
    assert!(sweep.cut_midway > 2, "{sweep:?}");
    quit_and_check_log(pop, server, &log, expected).await;
}

#[tokio::test]
async fn retr_to_cancelled_at_every_millisecond_on_fresh_connections() {
    let want = body(1);
    let mut cut_midway = 0;
    for t in 0..500 {
        let (server, log) = start(Mailbox::small(false), false);
        let mut pop = login(&server, false).await;
        let mut expected = login_log();
        expected.push("RETR 1".into());
        let mut sink = Vec::new();
        let outcome = tokio::time::timeout(ms(t), pop.retr_to(msg(1), &mut sink)).await;
        let done = outcome.is_ok();
        match outcome {
            Ok(size) => {
                assert_eq!(size.expect("retr_to"), want.len() as u64);
                assert_eq!(sink, want);
            }
            Err(_) => {
                assert!(want.starts_with(&sink), "{t} ms: wrong data delivered");
                cut_midway += usize::from(!sink.is_empty());
            }
        }
        check_in_step(&mut pop, &mut expected).await;
        quit_and_check_log(pop, server, &log, expected).await;
        if done {
            assert!(cut_midway > 0, "never cut inside the body");
            return;
        }
    }
    panic!("retr_to never completed");
}

// ----- list, login, retr_many ----------------------------------------------------------------

#[tokio::test]
async fn list_cancelled_at_every_millisecond_on_one_connection() {
    let (server, log) = start(Mailbox::small(false), false);
    let mut pop = login(&server, false).await;
    let mut expected = login_log();
    let want: Vec<(u32, u64)> = (1..=COUNT).map(|n| (n, body(n).len() as u64)).collect();
    for cut in every_ms() {
        let (output, _) = run(cut, pop.list()).await;
        expected.push("LIST".into());
        let done = output.is_some();
        if let Some(entries) = output {
            let entries = entries.expect("list");
            let got: Vec<(u32, u64)> = entries.iter().map(|e| (e.msg.get(), e.size)).collect();
            assert_eq!(got, want, "{cut:?}");
        }
        check_in_step(&mut pop, &mut expected).await;
        if done {
            return quit_and_check_log(pop, server, &log, expected).await;
        }
    }
    panic!("list never completed");
}

#[tokio::test]
async fn login_cancelled_midway_leaves_a_usable_session() {
    // The server takes 2 ms over each of USER and PASS, so the cuts land before USER's
    // reply, between the two, and while PASS is in flight.
    for pipelining in [false, true] {
        let mut cut_in_flight = 0;
        let cuts = (0..3)
            .map(Cut::Polls)
            .chain((0..200).map(|t| Cut::After(ms(t))));
        for cut in cuts {
            let mailbox = Mailbox {
                login_delay: ms(2),
                ..Mailbox::small(pipelining)
            };
            let (server, log) = start(mailbox, false);
            let mut pop = connector(&server, false).connect().await.expect("connect");
            if pipelining {
                pop.capa().await.expect("capa");
                assert!(pop.session().is_pipelining());
            }
            let (output, polls) = run(cut, pop.login("alice", "secret")).await;
            let done = output.is_some();
            if let Some(result) = output {
                result.expect("login");
            } else {
                cut_in_flight += usize::from(polls > 0);
                // CAPA is valid in every state, so the session must take it whatever the
                // cut left in flight (settling those replies first). A session that refuses
                // everything (even QUIT) with "wait for the reply to PASS" — a reply that
                // nothing will ever read — is stuck for good.
                let caps = match pop.capa().await {
                    Ok(caps) => caps,
                    Err(e) => panic!("{cut:?}: CAPA after a cancelled login: {e:?}"),
                };
                assert_eq!(caps.pipelining, pipelining, "{cut:?}: {caps:?}");
                match pop.session().state() {
                    SessionState::Transaction => {}
                    SessionState::Authorization => {
                        pop.login("alice", "secret").await.expect("login again");
                    }
                    other => panic!("{cut:?}: {other:?}"),
                }
            }
            assert_eq!(pop.session().state(), SessionState::Transaction);
            let stat = pop.stat().await.expect("stat");
            assert_eq!((stat.count, stat.size), (COUNT, total_size()));
            assert!(pop.quit().await.expect("quit").is_committed());
            server.join();
            let log = commands(&log);
            assert_eq!(log.iter().filter(|c| *c == "QUIT").count(), 1, "{log:?}");
            assert_eq!(log.last().map(String::as_str), Some("QUIT"), "{log:?}");
            if done {
                break;
            }
        }
        assert!(
            cut_in_flight > 0,
            "pipelining {pipelining}: no cut with login in flight"
        );
    }
}

#[tokio::test]
async fn retr_many_cancelled_midway_on_one_connection() {
    // Messages 1 and 3 are dribbled, 2 is not: cuts land in 1, at the end of 1 or 2, and
    // in 3. Pipelined (all RETRs out at once) and one at a time.
    let msgs = [msg(1), msg(2), msg(3)];
    for pipelining in [true, false] {
        let (server, log) = start(Mailbox::small(pipelining), false);
        let mut pop = login(&server, false).await;
        pop.capa().await.expect("capa"); // so that the batch sends before it awaits
        assert_eq!(pop.session().is_pipelining(), pipelining);
        let mut expected = login_log();
        expected.push("CAPA".into());
        let mut cut_between = 0;
        for t in (0..500).step_by(2) {
            let mut got: Vec<(u32, Vec<u8>, bool)> = Vec::new();
            let batch = pop.retr_many(&msgs, |m, part| {
                if got.last().is_none_or(|(n, _, _)| *n != m.get()) {
                    got.push((m.get(), Vec::new(), false));
                }
                let (_, data, ended) = got.last_mut().expect("pushed");
                assert!(!*ended, "data after the end of {m:?}");
                match part {
                    Part::Data(d) => data.extend_from_slice(d),
                    Part::End => *ended = true,
                }
                Ok(())
            });
            let (output, _) = run(Cut::After(ms(t)), batch).await;
            // Whatever was delivered is right: messages in order, each a prefix of its
            // body, all but the last complete, and an End only after the whole body.
            for (i, (n, data, ended)) in got.iter().enumerate() {
                assert_eq!(*n, msgs[i].get(), "{t} ms: out of order: {got:?}");
                let want = body(*n);
                assert!(want.starts_with(data), "{t} ms: wrong data for {n}");
                assert_eq!(*ended, data == &want, "{t} ms: message {n}");
                assert!(*ended || i + 1 == got.len(), "{t} ms: {n} left unfinished");
            }
            cut_between += usize::from(output.is_none() && got.iter().any(|m| m.2));
            let done = output.is_some();
            if let Some(report) = output {
                let report = report.expect("retr_many");
                let sizes: Vec<(u32, u64)> =
                    report.done.iter().map(|(m, s)| (m.get(), *s)).collect();
                let want: Vec<(u32, u64)> = [1, 2, 3].map(|n| (n, body(n).len() as u64)).to_vec();
                assert_eq!(sizes, want);
                assert!(report.refused.is_empty());
            }
            check_in_step(&mut pop, &mut Vec::new()).await;
            // The server saw the batch's RETRs (in order, each once: all of them, or the
            // abandoned ones not at all), then STAT and RETR 2; nothing else, never QUIT.
            let seen = commands(&log);
            assert_eq!(seen[..expected.len()], expected[..], "{t} ms");
            let (retrs, after) = seen[expected.len()..].split_at(seen.len() - expected.len() - 2);
            assert_eq!(after, ["STAT", "RETR 2"], "{t} ms: {seen:?}");
            assert!(
                (1..=3).contains(&retrs.len())
                    && retrs
                        .iter()
                        .zip(["RETR 1", "RETR 2", "RETR 3"])
                        .all(|(a, b)| a == b),
                "{t} ms: {retrs:?}"
            );
            expected = seen;
            if done {
                assert!(
                    cut_between > 0,
                    "pipelining {pipelining}: never cut between messages"
                );
                break;
            }
        }
        quit_and_check_log(pop, server, &log, expected).await;
    }
}

// ----- DELE ----------------------------------------------------------------------------------

#[tokio::test]
async fn dele_dropped_after_its_first_poll_is_sent_and_the_session_tracks_the_mark() {
    let (server, log) = start(Mailbox::small(true), false);
    let mut pop = login(&server, false).await;
    pop.capa().await.expect("capa");
    // Never polled: nothing goes out.
    let (output, polls) = run(Cut::Polls(0), pop.dele(msg(4))).await;
    assert!(output.is_none() && polls == 0);
    // Polled once: DELE is written in that poll (its bytes left the session before the
    // await), so dropping the call does not unsend it; its reply marks the message.
    let (output, polls) = run(Cut::Polls(1), pop.dele(msg(5))).await;
    assert!(output.is_none() && polls == 1);
    pop.noop().await.expect("noop");
    let marked = |pop: &Pop3| {
        pop.session()
            .marked_deleted()
            .map(|m| m.get())
            .collect::<Vec<_>>()
    };
    assert_eq!(marked(&pop), [5]);
    // A pipelined dele_many polled once has written its whole window: all marked.
    let (output, _) = run(Cut::Polls(1), pop.dele_many(&[msg(6), msg(7), msg(8)])).await;
    assert!(output.is_none());
    pop.noop().await.expect("noop");
    assert_eq!(marked(&pop), [5, 6, 7, 8]);
    // QUIT would commit them; RSET restores them first.
    pop.rset().await.expect("rset");
    assert!(marked(&pop).is_empty());
    let mut expected = login_log();
    expected.extend(
        [
            "CAPA", "DELE 5", "NOOP", "DELE 6", "DELE 7", "DELE 8", "NOOP", "RSET",
        ]
        .map(String::from),
    );
    quit_and_check_log(pop, server, &log, expected).await;
}

// ----- STLS ----------------------------------------------------------------------------------

#[tokio::test]
async fn stls_cancelled_before_or_during_the_handshake_closes_the_session() {
    // Whether the cut comes before STLS's +OK (nothing will ever do the handshake that
    // reply starts) or during the handshake, the session can only be closed: the next
    // calls return Closed, and nothing more goes out in plaintext (no QUIT).
    let cases = [
        (
            "before the reply",
            vec![sleep(200), send("+OK begin TLS\r\n"), Step::ExpectEof],
            ms(20),
        ),
        (
            "during the handshake",
            vec![
                send("+OK begin TLS\r\n"),
                Step::RecvAny, // the ClientHello, never answered
                Step::ExpectEof,
            ],
            ms(100),
        ),
    ];
    for (case, after_stls, cut) in cases {
        let server = Server::start(
            [
                vec![
                    send("+OK ready\r\n"),
                    expect("CAPA"),
                    send("+OK\r\nSTLS\r\nUSER\r\n.\r\n"),
                    expect("STLS"),
                ],
                after_stls,
            ]
            .concat(),
        );
        let mut pop = Connector::new("127.0.0.1")
            .port(server.port())
            .tls_mode(TlsMode::InsecurePlaintext)
            .tls_config(Pki::shared().client_config())
            .timeout(TIMEOUT)
            .connect()
            .await
            .expect("connect");
        pop.capa().await.expect("capa");
        let (output, _) = run(Cut::After(cut), pop.stls()).await;
        assert!(output.is_none(), "{case}: not cut: {output:?}");
        for _ in 0..2 {
            let err = pop.capa().await.expect_err("closed");
            assert!(matches!(err, Error::Closed(_)), "{case}: {err:?}");
        }
        let err = pop.quit().await.expect_err("closed");
        assert!(matches!(err, Error::Closed(_)), "{case}: {err:?}");
        server.join();
    }
}

// ----- Send ----------------------------------------------------------------------------------

fn assert_send<T: Send>(_: &T) {}

/// Compile-time: sessions over any `Send` stream are `Send`.
const _: fn() = || {
    fn is_send<T: Send>() {}
    is_send::<Pop3<Transport>>();
    is_send::<Pop3<tokio::net::TcpStream>>();
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_their_futures_are_send() {
    assert_send(&Pop3::connect_tls("localhost", 995)); // never polled
    let (server, log) = start(Mailbox::small(true), true);
    let connecting = connector(&server, true).connect();
    let task = tokio::spawn(async move {
        assert_send(&connecting);
        let mut pop: Pop3<Transport> = connecting.await.expect("connect");
        let logging_in = pop.login("alice", "secret");
        assert_send(&logging_in);
        logging_in.await.expect("login");
        let mut sink = Vec::new();
        let retrieving = pop.retr_to(msg(1), &mut sink);
        assert_send(&retrieving);
        retrieving.await.expect("retr_to");
        assert_eq!(sink, body(1));
        let mut bodies = Vec::new();
        let two_and_four = [msg(2), msg(4)];
        let batch = pop.retr_many(&two_and_four, |_, part| {
            if let Part::Data(data) = part {
                bodies.extend_from_slice(data);
            }
            Ok(())
        });
        assert_send(&batch);
        batch.await.expect("retr_many");
        assert_eq!(bodies, [body(2), body(4)].concat());
        pop
    });
    let pop = task.await.expect("the task");
    // The session moves to another task, and QUIT runs there.
    let quitting = pop.quit();
    assert_send(&quitting);
    let outcome = tokio::spawn(quitting).await.expect("the task");
    assert!(outcome.expect("quit").is_committed());
    server.join();
    assert_eq!(
        commands(&log),
        [
            "USER alice",
            "PASS secret",
            "RETR 1",
            "CAPA",
            "RETR 2",
            "RETR 4",
            "QUIT"
        ]
    );
}

// ----- no deadlock ---------------------------------------------------------------------------

/// Messages in the deadlock test, the size of each reply, and the client's window.
const BATCH: u32 = 2000;
const REPLY: usize = 20 * 1024;
const IN_FLIGHT: u32 = 1024;

/// The RETR reply for message `n` of the big mailbox: a header naming it, then filler that
/// needs no stuffing.
fn big_reply(n: u32) -> Vec<u8> {
    let mut reply = format!("+OK\r\nX-Message: {n:04}\r\n").into_bytes();
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-=+*\r\n";
    while reply.len() + line.len() + 3 <= REPLY {
        reply.extend_from_slice(line);
    }
    reply.extend_from_slice(b".\r\n");
    reply
}

fn big_body(n: u32) -> Vec<u8> {
    let reply = big_reply(n);
    reply[5..reply.len() - 3].to_vec()
}

/// The server of the deadlock test: answers each RETR as soon as it reads it, writing the
/// whole 20 KB reply before it reads anything more, with a small receive buffer (set on the
/// listener, so that the window is small from the handshake on) and a modest send buffer.
fn start_big(tls: bool) -> (Server, Log) {
    let listener = support::listener();
    let socket = socket2::SockRef::from(&listener);
    // 4 KiB (the kernel doubles it): a naive client fits ~8 KB of commands in the pipe,
    // less than one window of 1024 RETRs. (The kernel's minimum would do too, but makes
    // TCP itself stall for its 200 ms retransmission timeout.)
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    socket.set_send_buffer_size(64 * 1024).expect("SO_SNDBUF");
    let mailbox = Mailbox {
        count: BATCH,
        pipelining: true,
        login_delay: Duration::ZERO,
        retr: Some(big_reply),
    };
    start_on(listener, mailbox, tls)
}

/// A small send buffer for the client too: commands it cannot hand to the kernel stay in
/// the driver, which must keep reading meanwhile.
fn small_send_buffer(tcp: &impl std::os::fd::AsFd) {
    socket2::SockRef::from(tcp)
        .set_send_buffer_size(1)
        .expect("SO_SNDBUF");
}

#[tokio::test]
async fn a_pipelined_batch_against_a_server_that_does_not_read_while_writing_finishes() {
    for tls in [false, true] {
        let (server, log) = start_big(tls);
        let mut config = Config::default();
        config.max_in_flight = IN_FLIGHT as usize;
        let mut pop = connector(&server, tls)
            .session_config(config)
            .connect()
            .await
            .expect("connect");
        small_send_buffer(pop.transport().tcp().expect("TCP"));
        pop.login("alice", "secret").await.expect("login");
        pop.capa().await.expect("capa");
        assert!(pop.session().is_pipelining());
        let msgs: Vec<MsgNum> = (1..=BATCH).map(msg).collect();
        let mut current = Vec::with_capacity(REPLY);
        let mut next = 1;
        let batch = pop.retr_many(&msgs, |m, part| {
            assert_eq!(m.get(), next, "out of order");
            match part {
                Part::Data(data) => current.extend_from_slice(data),
                Part::End => {
                    assert!(current == big_body(next), "message {next} differs");
                    current.clear();
                    next += 1;
                }
            }
            Ok(())
        });
        let report = match tokio::time::timeout(Duration::from_secs(10), batch).await {
            Ok(report) => report.expect("retr_many"),
            Err(_) => panic!("tls {tls}: deadlocked after {} messages", next - 1),
        };
        assert_eq!(next, BATCH + 1);
        assert_eq!(report.done.len(), BATCH as usize);
        assert!(report.refused.is_empty());
        assert!(pop.quit().await.expect("quit").is_committed());
        server.join();
        let log = commands(&log);
        assert_eq!(
            log.len(),
            2 + 1 + BATCH as usize + 1,
            "USER PASS CAPA RETR… QUIT"
        );
    }
}

#[test]
fn a_client_that_writes_before_reading_would_deadlock_there() {
    // The control for the test above: the same server and buffers, and a client that
    // writes its first window of RETRs before reading anything cannot finish writing them
    // (so the test above would catch a driver that does so).
    let (server, _log) = start_big(false);
    let mut tcp = std::net::TcpStream::connect(("127.0.0.1", server.port())).expect("connect");
    small_send_buffer(&tcp);
    tcp.set_write_timeout(Some(ms(150))).expect("timeout");
    let mut commands = b"USER alice\r\nPASS secret\r\n".to_vec();
    for n in 1..=IN_FLIGHT {
        commands.extend_from_slice(format!("RETR {n}\r\n").as_bytes());
    }
    let mut written = 0;
    let err = loop {
        match tcp.write(&commands[written..]) {
            Ok(n) => {
                written += n;
                if written == commands.len() {
                    panic!("all {written} bytes went out: this setup cannot deadlock");
                }
            }
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    drop(tcp); // the server's blocked write fails; it stops
    server.join();
}
