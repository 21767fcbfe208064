//! Scale benchmark: N concurrent pop3-tokio sessions on ONE current-thread runtime against
//! one server (made for `minipop`, whose every mailbox holds 10 messages of 4 KB). Each
//! session connects, logs in, asks STAT, waits until all N are logged in (so they are all
//! open at once), fetches every message with `retr_many`, checks that it got exactly the
//! bytes STAT announced, and quits.
//!
//! ```text
//! cargo run --release -p pop3-tokio --example bench_scale -- HOST PORT [SESSIONS]
//! ```
//!
//! SESSIONS defaults to 1,000 (mind `ulimit -n`). Environment: `POP3_USER` and
//! `POP3_PASSWORD` (default `bench`/`bench`; a `{n}` in `POP3_USER` becomes the session's
//! index, 0 to SESSIONS-1, for servers that lock a maildrop to one session),
//! `POP3_WINDOW` (pipelining window), `POP3_READ_SIZE` (bytes; the receive buffer's
//! `Config::read_size`, default 64 KiB), `POP3_HOLD_MS` (once every session is logged in,
//! print `all logged in` on stderr and hold them open this long before fetching, so a
//! benchmark can measure the server with every session open; default 0).
//!
//! Prints one line of `key=value` pairs: sessions, messages, bytes, seconds (first connect
//! to last QUIT), messages_per_s, fetch_messages_per_s (the fetch phase alone), and memory
//! from /proc/self/status: `base_rss_kib` (VmRSS before any session), `connected_kib_per_session`
//! (VmRSS with all sessions logged in, less the base, over N), `peak_kib_per_session`
//! (the highest VmRSS sampled during the fetch phase, or VmHWM if higher, less the base,
//! over N), and `future_bytes` (the size of one session's task future).

use pop3_tokio::pop3_proto::{Config, MsgNum};
use pop3_tokio::{Connector, Part, TlsMode};
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

/// A one-shot gate: sessions wait on it until the main task opens it.
#[derive(Default)]
struct Gate {
    state: Mutex<(bool, Vec<Waker>)>,
}

impl Gate {
    fn open(&self) {
        let mut state = self.state.lock().expect("gate lock");
        state.0 = true;
        for waker in state.1.drain(..) {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            let mut state = self.state.lock().expect("gate lock");
            if state.0 {
                Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

/// What the sessions share with the main task.
#[derive(Default)]
struct Shared {
    /// Sessions logged in (or failed) and waiting at the gate.
    arrived: AtomicUsize,
    messages: AtomicU64,
    bytes: AtomicU64,
    gate: Gate,
}

/// A `kB` field of /proc/self/status (VmRSS, VmHWM), in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn session(connector: Connector, shared: Arc<Shared>, index: usize) -> Result<(), BoxError> {
    let user = std::env::var("POP3_USER")
        .unwrap_or_else(|_| "bench".into())
        .replace("{n}", &index.to_string());
    let password = std::env::var("POP3_PASSWORD").unwrap_or_else(|_| "bench".into());
    let login = async {
        let mut pop = connector.connect().await?;
        pop.allow_insecure_auth(true);
        pop.login(&user, &password).await?;
        let stat = pop.stat().await?;
        Ok::<_, BoxError>((pop, stat))
    }
    .await;
    // Arrive even on failure, so the main task never waits for a dead session.
    shared.arrived.fetch_add(1, Ordering::SeqCst);
    let (mut pop, stat) = login?;
    shared.gate.wait().await;
    let all: Vec<MsgNum> = (1..=stat.count).filter_map(MsgNum::new).collect();
    let mut bytes = 0u64;
    let report = pop
        .retr_many(&all, |_, part| {
            if let Part::Data(data) = part {
                bytes += data.len() as u64;
            }
            Ok(())
        })
        .await?;
    pop.quit().await?;
    if !report.refused.is_empty() || report.done.len() as u32 != stat.count {
        return Err(format!(
            "{} of {} messages refused",
            report.refused.len(),
            stat.count
        )
        .into());
    }
    if bytes != stat.size {
        return Err(format!("got {bytes} bytes, STAT announced {}", stat.size).into());
    }
    shared
        .messages
        .fetch_add(report.done.len() as u64, Ordering::Relaxed);
    shared.bytes.fetch_add(bytes, Ordering::Relaxed);
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (host, port, sessions) = match args.as_slice() {
        [host, port] => (host, port.parse::<u16>()?, 1000),
        [host, port, n] => (host, port.parse::<u16>()?, n.parse::<usize>()?),
        _ => return Err("usage: bench_scale HOST PORT [SESSIONS]".into()),
    };
    let mut config = Config::default();
    if let Ok(window) = std::env::var("POP3_WINDOW") {
        config.max_in_flight = window.parse()?;
    }
    if let Ok(size) = std::env::var("POP3_READ_SIZE") {
        config.read_size = size.parse()?;
    }
    let read_size = config.read_size;
    let hold = Duration::from_millis(match std::env::var("POP3_HOLD_MS") {
        Ok(ms) => ms.parse()?,
        Err(_) => 0,
    });
    let connector = Connector::new(host.as_str())
        .port(port)
        .tls_mode(TlsMode::InsecurePlaintext)
        .allow_insecure_auth(true)
        .session_config(config)
        .timeout(Duration::from_secs(120));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let shared = Arc::new(Shared::default());
        // What each spawned task holds for its whole life, whatever it awaits.
        let future_bytes = std::mem::size_of_val(&session(connector.clone(), shared.clone(), 0));
        // The handles are made before the base is read, so it counts only what sessions hold.
        let mut handles = Vec::with_capacity(sessions);
        let base = status_kib("VmRSS");
        let start = Instant::now();
        for index in 0..sessions {
            handles.push(tokio::spawn(session(
                connector.clone(),
                shared.clone(),
                index,
            )));
        }
        while shared.arrived.load(Ordering::SeqCst) < sessions {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let connected = status_kib("VmRSS");
        let login_secs = start.elapsed().as_secs_f64();
        if hold > Duration::ZERO {
            eprintln!("all logged in");
            tokio::time::sleep(hold).await;
        }
        let fetch_start = Instant::now();
        shared.gate.open();
        // Sample while the sessions fetch; the runtime interleaves this task with them.
        let mut peak = connected;
        let mut failures = 0usize;
        let mut first_error = None;
        for handle in handles {
            while !handle.is_finished() {
                peak = peak.max(status_kib("VmRSS"));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if let Err(e) = handle.await? {
                failures += 1;
                first_error.get_or_insert(e.to_string());
            }
        }
        let fetch_secs = fetch_start.elapsed().as_secs_f64();
        let secs = start.elapsed().as_secs_f64();
        peak = peak.max(status_kib("VmHWM"));
        let messages = shared.messages.load(Ordering::Relaxed);
        let per = |kib: u64| kib.saturating_sub(base) as f64 / sessions as f64;
        println!(
            "sessions={sessions} read_size={read_size} messages={messages} bytes={} \
             seconds={secs:.3} login_seconds={login_secs:.3} messages_per_s={:.0} \
             fetch_messages_per_s={:.0} base_rss_kib={base} connected_kib_per_session={:.1} \
             peak_kib_per_session={:.1} future_bytes={future_bytes} failures={failures}",
            shared.bytes.load(Ordering::Relaxed),
            messages as f64 / secs,
            messages as f64 / fetch_secs,
            per(connected),
            per(peak),
        );
        match first_error {
            Some(e) => Err(format!("{failures} of {sessions} sessions failed; first: {e}").into()),
            None => Ok(()),
        }
    })
}
