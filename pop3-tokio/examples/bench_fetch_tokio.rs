//! Benchmark client on pop3-tokio (a current-thread runtime): logs in, retrieves every
//! message (pipelined when the server allows) into a counting sink, and prints
//! `messages bytes seconds MB/s messages/s` — the async twin of pop3-blocking's
//! `bench_fetch`, with the same arguments and output (named apart so that the two examples
//! do not overwrite each other in `target/*/examples/`).
//!
//! ```text
//! POP3_PASSWORD=… cargo run --release -p pop3-tokio --example bench_fetch_tokio -- \
//!     HOST PORT USER [none|implicit CA.pem]
//! ```
//!
//! `POP3_WINDOW` overrides the pipelining window (default 32 commands in flight) and
//! `POP3_READ_SIZE` the receive buffer's `Config::read_size` (bytes; default 64 KiB).

use pop3_tokio::pop3_proto::{Config, MsgNum};
use pop3_tokio::{Connector, Part, TlsMode};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, user, rest @ ..] = args.as_slice() else {
        return Err("usage: bench_fetch_tokio HOST PORT USER [none|implicit CA.pem]".into());
    };
    let password = std::env::var("POP3_PASSWORD").map_err(|_| "set POP3_PASSWORD")?;
    let mut session = Config::default();
    if let Ok(window) = std::env::var("POP3_WINDOW") {
        session.max_in_flight = window.parse()?;
    }
    if let Ok(size) = std::env::var("POP3_READ_SIZE") {
        session.read_size = size.parse()?;
    }
    let mut connector = Connector::new(host.as_str())
        .session_config(session)
        .port(port.parse()?)
        .timeout(Duration::from_secs(120));
    connector = match rest {
        [mode, ca] if mode == "implicit" => connector.ca_file(ca)?,
        _ => connector
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let start = Instant::now();
        let mut pop = connector.connect().await?;
        pop.allow_insecure_auth(true);
        pop.login(user, &password).await?;
        let count = pop.stat().await?.count;
        let all: Vec<MsgNum> = (1..=count).filter_map(MsgNum::new).collect();
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
        let secs = start.elapsed().as_secs_f64();
        if !report.refused.is_empty() {
            return Err(format!("{} messages refused", report.refused.len()).into());
        }
        println!(
            "{} {bytes} {secs:.3} {:.1} {:.0}",
            report.done.len(),
            bytes as f64 / secs / 1e6,
            report.done.len() as f64 / secs
        );
        Ok(())
    })
}
