//! A minimal POP3 server for load tests: every login (any user, any password) sees the
//! same 10 messages of exactly 4,096 bytes, built once at start and dot-stuffed on the wire.
//! It speaks the greeting, CAPA (with PIPELINING), USER, PASS, STAT, LIST, RETR, NOOP and
//! QUIT; pipelined commands are answered in order, and the replies to everything already
//! received go out in one write. Listens on 127.0.0.1 only and runs until killed.
//!
//! ```text
//! cargo run --release -p pop3-tokio --example minipop -- PORT [THREADS]
//! ```
//!
//! `PORT` 0 takes a free port. The first line on stdout is `listening 127.0.0.1:PORT`
//! (a script waits for it). `THREADS` (default 1) is the number of runtime threads: 1 is a
//! current-thread runtime, so the server keeps to one core and leaves the other to the
//! client under test.

use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// Messages in every mailbox.
const COUNT: usize = 10;
/// Size of each message as LIST and STAT count it (unstuffed, CRLF line ends).
const SIZE: usize = 4096;
/// Longest command line accepted, CRLF included (RFC 2449 allows 255).
const MAX_LINE: u64 = 512;
/// Replies are written once this much is queued even while more commands wait.
const FLUSH_AT: usize = 64 * 1024;

/// The prebuilt replies shared by every session.
struct Mailbox {
    /// `+OK 4096 octets`, the dot-stuffed body, and the terminating `.` line, per message.
    retr: Vec<Vec<u8>>,
    list: Vec<u8>,
    stat: Vec<u8>,
}

/// Message `n` (1-based): headers and 70-odd-byte lines, every seventh line starting with a
/// dot and one line that is a lone dot (so unstuffing is exercised), padded to `SIZE` bytes.
fn message(n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: minipop <load@minipop.invalid>\r\nTo: bench@minipop.invalid\r\n\
         Subject: load test message {n}\r\nMessage-ID: <{n}@minipop.invalid>\r\n\r\n"
    )
    .into_bytes();
    let mut line = 0usize;
    while SIZE - m.len() > 80 {
        line += 1;
        let text = match line % 7 {
            0 if line == 14 => ".".to_string(),
            0 => format!(".line {line} of message {n} starts with a dot"),
            _ => format!("line {line} of message {n}: the quick brown fox jumps over"),
        };
        m.extend_from_slice(text.as_bytes());
        m.extend_from_slice(b"\r\n");
    }
    // The last line takes what is left: at least "x\r\n".
    let rest = SIZE - m.len() - 2;
    m.extend(std::iter::repeat_n(b'z', rest));
    m.extend_from_slice(b"\r\n");
    assert_eq!(m.len(), SIZE);
    m
}

/// The RETR reply for `body`: a dot is added before every line that starts with one.
fn retr_reply(body: &[u8]) -> Vec<u8> {
    let mut out = format!("+OK {} octets\r\n", body.len()).into_bytes();
    for line in body.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

impl Mailbox {
    fn new() -> Self {
        let bodies: Vec<Vec<u8>> = (1..=COUNT).map(message).collect();
        let mut list = format!("+OK {COUNT} messages ({} octets)\r\n", COUNT * SIZE);
        for (i, body) in bodies.iter().enumerate() {
            list.push_str(&format!("{} {}\r\n", i + 1, body.len()));
        }
        list.push_str(".\r\n");
        Self {
            retr: bodies.iter().map(|b| retr_reply(b)).collect(),
            list: list.into_bytes(),
            stat: format!("+OK {COUNT} {}\r\n", COUNT * SIZE).into_bytes(),
        }
    }

    /// The message a `RETR`/`LIST` argument names, if any.
    fn index(&self, arg: &str) -> Option<usize> {
        match arg.parse::<usize>() {
            Ok(n) if (1..=self.retr.len()).contains(&n) => Some(n - 1),
            _ => None,
        }
    }
}

#[derive(PartialEq)]
enum State {
    /// Before USER.
    Start,
    /// USER given, waiting for PASS.
    User,
    Transaction,
}

/// Appends the reply to one command line; returns false when the session is to end.
fn answer(mailbox: &Mailbox, state: &mut State, line: &str, out: &mut Vec<u8>) -> bool {
    let (keyword, arg) = match line.split_once(' ') {
        Some((k, a)) => (k, a),
        None => (line, ""),
    };
    let keyword = keyword.to_ascii_uppercase();
    let reply: &[u8] = match (keyword.as_str(), &*state) {
        ("QUIT", _) => {
            out.extend_from_slice(b"+OK bye\r\n");
            return false;
        }
        ("CAPA", _) => b"+OK capability list follows\r\nUSER\r\nPIPELINING\r\n.\r\n",
        ("NOOP", State::Transaction) => b"+OK\r\n",
        ("USER", State::Start | State::User) if !arg.is_empty() => {
            *state = State::User;
            b"+OK send PASS\r\n"
        }
        ("PASS", State::User) => {
            *state = State::Transaction;
            b"+OK logged in\r\n"
        }
        ("STAT", State::Transaction) => &mailbox.stat,
        ("LIST", State::Transaction) if arg.is_empty() => &mailbox.list,
        ("LIST", State::Transaction) => match mailbox.index(arg) {
            Some(i) => {
                out.extend_from_slice(format!("+OK {} {SIZE}\r\n", i + 1).as_bytes());
                return true;
            }
            None => b"-ERR no such message\r\n",
        },
        ("RETR", State::Transaction) => match mailbox.index(arg) {
            Some(i) => &mailbox.retr[i],
            None => b"-ERR no such message\r\n",
        },
        _ => b"-ERR unknown command or wrong state\r\n",
    };
    out.extend_from_slice(reply);
    true
}

async fn serve(stream: TcpStream, mailbox: Arc<Mailbox>) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut out = b"+OK minipop ready\r\n".to_vec();
    let mut state = State::Start;
    let mut line = Vec::with_capacity(MAX_LINE as usize);
    loop {
        // Everything already received is answered before the replies go out in one write.
        if !out.is_empty() && (reader.buffer().is_empty() || out.len() >= FLUSH_AT) {
            write.write_all(&out).await?;
            out.clear();
        }
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            write.write_all(&out).await?;
            write.write_all(b"-ERR line too long\r\n").await?;
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\r', '\n']);
        if !answer(&mailbox, &mut state, text, &mut out) {
            write.write_all(&out).await?;
            return write.shutdown().await;
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (port, threads) = match args.as_slice() {
        [port] => (port.parse::<u16>()?, 1),
        [port, threads] => (port.parse::<u16>()?, threads.parse::<usize>()?),
        _ => return Err("usage: minipop PORT [THREADS]".into()),
    };
    let runtime = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()?
    };
    let mailbox = Arc::new(Mailbox::new());
    runtime.block_on(async move {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(([127, 0, 0, 1], port).into())?;
        // A deep backlog: a load test opens its sessions all at once.
        let listener = socket.listen(4096)?;
        println!("listening {}", listener.local_addr()?);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let mailbox = mailbox.clone();
                    tokio::spawn(async move {
                        let _ = serve(stream, mailbox).await;
                    });
                }
                // Out of descriptors or similar: back off instead of spinning.
                Err(e) => {
                    eprintln!("minipop: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    })
}
