//! The Tokio driver runs its session on Tokio's clock. With the clock paused (the usual way to
//! test timeouts without waiting for them), a reply deadline passes as soon as the runtime
//! advances to it: no real time goes by, and nothing spins.

use pop3_tokio::pop3_proto::Config;
use pop3_tokio::{Error, Pop3};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

#[tokio::test(start_paused = true)]
async fn a_reply_deadline_passes_on_tokios_paused_clock() {
    const TIMEOUT: Duration = Duration::from_secs(20);
    // A server that greets, then never answers (its end stays open: no end of stream).
    let (client_end, mut server_end) = tokio::io::duplex(1024);
    server_end.write_all(b"+OK ready\r\n").await.expect("greet");
    let real = std::time::Instant::now();
    let started = tokio::time::Instant::now();

    let mut pop = Pop3::from_stream(client_end, Config::default(), Some(TIMEOUT))
        .await
        .expect("greeting");
    let err = pop.capa().await.expect_err("the server never answers");

    assert!(matches!(err, Error::Timeout(d) if d == TIMEOUT), "{err:?}");
    // On Tokio's clock the wait was the deadline, to the millisecond it is rounded to...
    let waited = started.elapsed();
    assert!(
        waited >= TIMEOUT && waited <= TIMEOUT + Duration::from_millis(2),
        "waited {waited:?} on Tokio's clock"
    );
    // ... and on the wall clock it was not: a session reading the std clock would have
    // woken in a loop until 20 real seconds had passed.
    assert!(
        real.elapsed() < TIMEOUT,
        "{:?} of real time: the session's deadline followed the std clock",
        real.elapsed()
    );
    drop(server_end);
}
