//! Driving a `Client` through a transcript, and the checks every host runs.

use crate::command::{issue, IssueError};
use crate::parse::{unescape, Item, Transcript};
use crate::procedure::{Next, Proc};
use crate::render::Log;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use pop3_proto::{Client, Error, Event, SessionState};

/// How the server's bytes are cut into reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Each server block (consecutive `S:` lines) in one read, through `handle_input`.
    Whole,
    /// One byte per read.
    ByteByByte,
    /// Reads of at most this many bytes.
    Chunks(usize),
    /// Every block whole, except a cut at this offset of the whole server stream.
    SplitAt(usize),
    /// Whole blocks through `read_space` / `commit_read` (a driver's zero-copy path).
    ReadSpace,
}

/// What a replay produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replay {
    /// The events and procedure results, rendered (body chunks merged).
    pub events: Vec<String>,
    /// The fatal error that ended it, rendered with `Debug`.
    pub error: Option<String>,
    /// Everything the client sent.
    pub sent: Vec<u8>,
}

/// A transcript the client does not follow, or cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The transcript.
    pub name: String,
    /// The feed it happened with.
    pub feed: Feed,
    /// What differs.
    pub what: String,
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({:?}): {}", self.name, self.feed, self.what)
    }
}

/// How many ways to cut the server's bytes [`check`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    /// Whole, byte by byte, 2- and 7-byte reads, and `read_space`.
    Quick,
    /// Those and a cut at every offset of the server's stream.
    Full,
}

/// What [`check`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Replays run.
    pub replays: usize,
    /// Events (rendered lines) each replay produced.
    pub events: usize,
}

/// Replays `t` with `feed` and checks what the transcript says: the expected events and
/// error, the same events, error and output with every other cut of the server's bytes, and
/// QUIT sent exactly when the transcript asks for it.
pub fn check(t: &Transcript, depth: Depth) -> Result<Checked, Mismatch> {
    let whole = replay(t, Feed::Whole)?;
    let fail = |feed, what| Mismatch {
        name: t.name.clone(),
        feed,
        what,
    };
    if whole.events != t.events {
        return Err(fail(
            Feed::Whole,
            format!(
                "events differ\n  got:\n    {}\n  wanted:\n    {}",
                whole.events.join("\n    "),
                t.events.join("\n    ")
            ),
        ));
    }
    if whole.error != t.error {
        return Err(fail(
            Feed::Whole,
            format!("error {:?}, wanted {:?}", whole.error, t.error),
        ));
    }
    let asked = t.items.iter().any(|i| match i {
        Item::Client(c) => c == "QUIT",
        Item::Procedure(p) => p == "quit",
        _ => false,
    });
    if whole.sent.windows(6).any(|w| w == b"QUIT\r\n") != asked {
        return Err(fail(Feed::Whole, "QUIT sent against the transcript".into()));
    }
    let mut feeds = vec![
        Feed::ByteByByte,
        Feed::Chunks(2),
        Feed::Chunks(7),
        Feed::ReadSpace,
    ];
    if depth == Depth::Full {
        feeds.extend((1..t.server_bytes()).map(Feed::SplitAt));
    }
    for &feed in &feeds {
        let r = replay(t, feed)?;
        if r != whole {
            let what = if r.events != whole.events {
                format!(
                    "events differ from a whole feed's:\n    {}",
                    r.events.join("\n    ")
                )
            } else if r.error != whole.error {
                format!("error {:?} instead of {:?}", r.error, whole.error)
            } else {
                format!(
                    "sent {:?} instead of {:?}",
                    String::from_utf8_lossy(&r.sent),
                    String::from_utf8_lossy(&whole.sent)
                )
            };
            return Err(fail(feed, what));
        }
    }
    Ok(Checked {
        replays: feeds.len() + 1,
        events: whole.events.len(),
    })
}

/// Replays `t`, cutting the server's bytes as `feed` says.
///
/// ```
/// use pop3_transcript::{replay, Feed, Transcript};
/// let t = Transcript::parse("t", "S: +OK hi\nC: CAPA\nS: +OK\nS: .\n").unwrap();
/// let r = replay(&t, Feed::ByteByByte).unwrap();
/// assert_eq!(r.events, ["greeting +OK hi", "multi #1 +OK", "end #1"]);
/// assert_eq!(r.sent, b"CAPA\r\n");
/// ```
pub fn replay(t: &Transcript, feed: Feed) -> Result<Replay, Mismatch> {
    let mut run = Run {
        t,
        feed,
        client: Client::new(t.config.clone()),
        sent: Vec::new(),
        expected_sent: Vec::new(),
        log: Log::new(),
        offset: 0,
        pending: VecDeque::new(),
        next: 0,
        error: None,
    };
    run.all().map_err(|what| Mismatch {
        name: t.name.clone(),
        feed,
        what,
    })?;
    Ok(Replay {
        events: run.log.finish(),
        error: run.error,
        sent: run.sent,
    })
}

/// One replay in progress.
struct Run<'t> {
    t: &'t Transcript,
    feed: Feed,
    client: Client,
    sent: Vec<u8>,
    expected_sent: Vec<u8>,
    log: Log,
    /// Server bytes cut into pieces so far (where `Feed::SplitAt` cuts).
    offset: usize,
    /// Pieces of the current server block not fed yet.
    pending: VecDeque<Vec<u8>>,
    /// The next item.
    next: usize,
    /// The fatal error that ended the replay.
    error: Option<String>,
}

/// `Err` ends the replay: `Stop` as the transcript expects (an error was recorded), a
/// `String` as a mismatch.
enum Halt {
    Stop,
    Mismatch(String),
}

impl From<String> for Halt {
    fn from(what: String) -> Self {
        Self::Mismatch(what)
    }
}

impl Run<'_> {
    fn all(&mut self) -> Result<(), String> {
        match self.items() {
            Ok(()) | Err(Halt::Stop) => Ok(()),
            Err(Halt::Mismatch(what)) => Err(what),
        }
    }

    fn fatal(&mut self, error: Error) -> Halt {
        self.error = Some(format!("{error:?}"));
        Halt::Stop
    }

    fn items(&mut self) -> Result<(), Halt> {
        while let Some(item) = self.t.items.get(self.next) {
            self.next += 1;
            match item {
                Item::Client(line) => {
                    self.expect_sent(line)?;
                    if self.client.state() != SessionState::Sasl {
                        let rest = &self.t.items[self.next..];
                        match issue(&mut self.client, line, rest, &self.t.secret) {
                            Ok(()) => {}
                            Err(IssueError::Client(e)) => return Err(self.fatal(e)),
                            Err(IssueError::Transcript(what)) => return Err(what.into()),
                        }
                    }
                    self.client.poll_transmit(&mut self.sent);
                }
                Item::Eof => {
                    self.client.handle_eof();
                    self.drain()?;
                }
                Item::Server(_) => {
                    self.cut_block()?;
                    while let Some(piece) = self.pending.pop_front() {
                        self.input(&piece)?;
                        self.drain()?;
                    }
                }
                Item::Procedure(line) => self.procedure(line)?,
            }
        }
        Ok(())
    }

    /// Notes a `C:` line as what the client must have sent by the next server block.
    fn expect_sent(&mut self, line: &str) -> Result<(), Halt> {
        let wire = line
            .strip_prefix("RAW+ ")
            .or_else(|| line.strip_prefix("RAW "))
            .unwrap_or(line);
        self.expected_sent.extend(unescape(wire)?);
        self.expected_sent.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// Takes the server block starting at the item just taken (consecutive `S:` items) and
    /// cuts it into `pending` pieces, after checking causality: everything the transcript
    /// has the client send before this block went out.
    fn cut_block(&mut self) -> Result<(), Halt> {
        if self.sent != self.expected_sent {
            return Err(format!(
                "before server block at item {}: sent {:?}, the transcript says {:?}",
                self.next,
                String::from_utf8_lossy(&self.sent),
                String::from_utf8_lossy(&self.expected_sent)
            )
            .into());
        }
        let mut block = Vec::new();
        let mut at = self.next - 1;
        while let Some(Item::Server(bytes)) = self.t.items.get(at) {
            block.extend_from_slice(bytes);
            at += 1;
        }
        self.next = at;
        let start = self.offset;
        self.offset += block.len();
        match self.feed {
            Feed::Whole | Feed::ReadSpace => self.pending.push_back(block),
            Feed::ByteByByte => self.pending.extend(block.chunks(1).map(<[u8]>::to_vec)),
            Feed::Chunks(n) => self
                .pending
                .extend(block.chunks(n.max(1)).map(<[u8]>::to_vec)),
            Feed::SplitAt(cut) if cut > start && cut < start + block.len() => {
                let (a, b) = block.split_at(cut - start);
                self.pending.push_back(a.to_vec());
                self.pending.push_back(b.to_vec());
            }
            Feed::SplitAt(_) => self.pending.push_back(block),
        }
        Ok(())
    }

    fn input(&mut self, piece: &[u8]) -> Result<(), Halt> {
        if self.feed == Feed::ReadSpace {
            let space = self.client.read_space();
            let Some(space) = space.get_mut(..piece.len()) else {
                return Err(
                    format!("read_space gave {} bytes for {}", space.len(), piece.len()).into(),
                );
            };
            space.copy_from_slice(piece);
            self.client
                .commit_read(piece.len())
                .map_err(|e| Halt::Mismatch(e.to_string()))?;
        } else {
            self.client.handle_input(piece);
        }
        Ok(())
    }

    /// Takes every event available, acting on TLS upgrades, and transmits what became
    /// sendable. Nothing may be sent after an error.
    fn drain(&mut self) -> Result<(), Halt> {
        loop {
            match self.client.poll_event() {
                Ok(Some(event)) => {
                    if let Event::UpgradeToTls { .. } = event {
                        if let Err(e) = self.client.tls_established() {
                            return Err(self.fatal(e));
                        }
                    }
                    self.log.event(&event);
                }
                Ok(None) => break,
                Err(e) => {
                    if self.client.poll_transmit(&mut self.sent) != 0 {
                        return Err(String::from("the client sent after an error").into());
                    }
                    return Err(self.fatal(e));
                }
            }
        }
        self.client.poll_transmit(&mut self.sent);
        Ok(())
    }

    /// Runs a `P:` line's procedure to its end. Its I/O takes the transcript's items in order:
    /// `C:` lines are what it must send, server blocks its input.
    fn procedure(&mut self, line: &str) -> Result<(), Halt> {
        let mut proc = Proc::parse(line, &self.t.secret)?;
        loop {
            let next = match proc.step(&mut self.client, &mut self.log) {
                Ok(next) => next,
                Err(e) => return Err(self.fatal(e)),
            };
            match next {
                Next::Done => break,
                Next::Again => continue,
                Next::Io => {}
            }
            if self.client.poll_transmit(&mut self.sent) > 0 {
                continue;
            }
            if let Some(piece) = self.pending.pop_front() {
                self.input(&piece)?;
                continue;
            }
            match self.t.items.get(self.next) {
                Some(Item::Client(line)) => {
                    self.next += 1;
                    self.expect_sent(line)?;
                }
                Some(Item::Server(_)) => {
                    self.next += 1;
                    self.cut_block()?;
                }
                Some(Item::Eof) => {
                    self.next += 1;
                    self.client.handle_eof();
                }
                Some(Item::Procedure(_)) | None => {
                    return Err(
                        format!("P: {line} waits for input the transcript does not have").into(),
                    )
                }
            }
        }
        // Bytes of the last block that the procedure did not need go in as events.
        while let Some(piece) = self.pending.pop_front() {
            self.input(&piece)?;
        }
        self.drain()
    }
}
