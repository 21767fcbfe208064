//! A third driver, in one file: the core serves any event loop, not only `std::net` and
//! tokio. This one fetches a whole mailbox over a **non-blocking** socket driven by `mio`
//! (edge-triggered readiness), running the same procedures as `pop3-blocking` and
//! `pop3-tokio` — greeting, USER/PASS, UIDL (streamed), every message in one pipelined
//! `Batch` of RETR (CAPA learned on the way), QUIT — through the same [`Pump`]. The loop only
//! answers `Step::Io`: it reads, writes, or waits in `mio::Poll` until readiness or the
//! session's next deadline.
//!
//! Plaintext only (no TLS), so the password crosses the wire in clear: for loopback tests.
//!
//! ```text
//! POP3_PASSWORD=secret cargo run -p pop3-proto --features driver --example mio_fetch -- HOST PORT USER
//! ```
//!
//! Prints `N SIZE UID` per message to stdout and a summary to stderr; exits 0 only if no
//! message was refused and QUIT's outcome is committed, else 1 (`mio_fetch: <error>`).

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use pop3_proto::driver::{Error, Finish, Pump, Result};
use pop3_proto::procedures::{Batch, BatchItem, Credentials, Greet, Login, Multi};
use pop3_proto::procedures::{Procedure, Quit, Step};
use pop3_proto::{Config, MsgNum, Password, Uid, UserName};
use std::collections::BTreeMap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// How long the server may take to connect or to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The socket and the poll it is registered with.
struct Conn {
    poll: Poll,
    events: Events,
    stream: TcpStream,
}

impl Conn {
    /// Connects without blocking: the connection is made once the socket is writable and
    /// has a peer (mio's recipe), or failed when it has an error.
    fn open(addr: SocketAddr) -> io::Result<Self> {
        let mut stream = TcpStream::connect(addr)?;
        let poll = Poll::new()?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        poll.registry().register(&mut stream, Token(0), interest)?;
        let events = Events::with_capacity(4);
        let mut conn = Self {
            poll,
            events,
            stream,
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(e) = conn.stream.take_error()? {
                return Err(e);
            }
            match conn.stream.peer_addr() {
                Ok(_) => break,
                Err(e) if e.kind() != ErrorKind::NotConnected => return Err(e),
                Err(_) if Instant::now() >= deadline => return Err(ErrorKind::TimedOut.into()),
                Err(_) => conn.wait(Some(deadline))?,
            }
        }
        conn.stream.set_nodelay(true)?;
        Ok(conn)
    }

    /// Waits for readiness, or until `deadline`. Edge-triggered: mio reports a change only,
    /// so call this only after a read or write said `WouldBlock`.
    fn wait(&mut self, deadline: Option<Instant>) -> io::Result<()> {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match self.poll.poll(&mut self.events, timeout) {
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            result => result,
        }
    }
}

/// Runs `procedure` to its end, handing each item to `each`: the whole driver.
fn run<P: Procedure>(
    pump: &mut Pump,
    conn: &mut Conn,
    mut procedure: P,
    mut each: impl FnMut(P::Item),
) -> Result<<P::Output as Finish>::Value>
where
    P::Output: Finish,
{
    loop {
        match pump.step(&mut procedure)? {
            Step::Done(output) => return output.finish(),
            Step::Item(item) => each(item),
            Step::StartTls(_) => return Err(pump.fail(Error::TlsRequired("mio_fetch has no TLS"))),
            // Nothing in flight: take what is already waiting (WouldBlock = nothing).
            Step::Io if pump.wants_input_check() => {
                let result = conn.stream.read(pump.read_space());
                pump.read_done(result);
            }
            Step::Io if !pump.output().is_empty() => match conn.stream.write(pump.output()) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait(pump, conn)?,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                result => pump.write_done(result),
            },
            // Read until WouldBlock, one read per step; only then wait for the next edge.
            Step::Io => match conn.stream.read(pump.read_space()) {
                Err(e) if e.kind() == ErrorKind::WouldBlock => wait(pump, conn)?,
                result => pump.read_done(result),
            },
        }
    }
}

/// Waits for readiness or the session's deadline; a deadline passed is the session's to
/// judge (`tick`: a reply overdue fails the next step with `Error::Timeout`).
fn wait(pump: &mut Pump, conn: &mut Conn) -> Result<()> {
    let deadline = pump.deadline();
    conn.wait(deadline)?;
    if deadline.is_some_and(|d| Instant::now() >= d) {
        pump.tick();
    }
    Ok(())
}

fn fetch() -> core::result::Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [host, port, user] = args.as_slice() else {
        return Err("usage: mio_fetch HOST PORT USER (password in POP3_PASSWORD)".into());
    };
    let pass = std::env::var("POP3_PASSWORD").map_err(|_| "POP3_PASSWORD is not set")?;
    let (user, pass) = (UserName::new(user)?, Password::new(&pass)?);
    let port: u16 = port.parse().map_err(|_| format!("not a port: {port}"))?;
    let address = format!("{host}:{port}");
    // The name lookup blocks (std has no other); everything after it is non-blocking.
    let mut addrs = (host.as_str(), port).to_socket_addrs()?;
    let addr = addrs.next().ok_or("no address")?;
    let started = Instant::now();
    let mut conn = Conn::open(addr).map_err(|source| Error::Connect { address, source })?;

    let mut config = Config::default();
    config.allow_plaintext_auth = true; // the caller chose plaintext (loopback)
    let mut pump = Pump::new(config, Some(TIMEOUT));
    run(&mut pump, &mut conn, Greet::new(), |_| {})?;
    let login = Login::new(Credentials::UserPass { user, pass });
    run(&mut pump, &mut conn, login, |never| match never {})?;

    let mut uids: BTreeMap<MsgNum, Uid> = BTreeMap::new();
    run(&mut pump, &mut conn, Multi::uidl(), |(msg, uid)| {
        uids.insert(msg, uid);
    })?;

    // Every message in one batch: the session pipelines within its window.
    let (mut counted, mut bytes, mut mismatch) = (0u64, 0u64, None);
    let batch = Batch::retr(uids.keys().copied());
    let report = run(&mut pump, &mut conn, batch, |item| match item {
        BatchItem::Data { data, .. } => counted += data.len() as u64,
        BatchItem::Done { msg, size } => {
            println!("{msg} {counted} {}", uids[&msg]);
            if size != counted {
                mismatch.get_or_insert(format!(
                    "message {msg}: {counted} bytes, but {size} by the batch"
                ));
            }
            bytes += counted;
            counted = 0;
        }
        BatchItem::Refused { msg, status } => {
            eprintln!("mio_fetch: message {msg} refused: {status}");
            counted = 0;
        }
    })?;
    let (n, ms) = (report.done.len(), started.elapsed().as_millis());
    eprintln!("fetched {n} messages, {bytes} bytes in {ms} ms");

    let outcome = run(&mut pump, &mut conn, Quit::new(), |never| match never {})?;
    if let Some(mismatch) = mismatch {
        return Err(mismatch.into());
    }
    let (listed, refused) = (uids.len(), report.refused.len());
    if n != listed || refused > 0 {
        return Err(format!("{listed} messages listed, {n} fetched, {refused} refused").into());
    }
    if !outcome.is_committed() {
        return Err(format!("QUIT not committed: {outcome:?}").into());
    }
    Ok(())
}

fn main() -> ExitCode {
    match fetch() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mio_fetch: {e}");
            ExitCode::FAILURE
        }
    }
}
