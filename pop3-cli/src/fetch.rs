//! `pop3 fetch`: mail from a POP3 server into a Maildir, never lost and never stored twice.
//!
//! The order of events is what makes it safe:
//!
//! 1. The Maildir's lock is taken and what an interrupted run left in `tmp/` is removed.
//! 2. `UIDL` says which messages the server has; the Maildir (file names and the state file,
//!    see [`crate::maildir`]) says which of them were stored before. Those are skipped unless
//!    `--all`.
//! 3. The rest are retrieved in one pipelined batch. A writer thread stores them as they
//!    stream in, in constant memory, and makes finished messages durable in batches while the
//!    network goes on (a batch commits when the stream pauses or the batch grows large).
//! 4. Only when the batch is over and every stored message is durable, and only with
//!    `--delete`, does `DELE` go out: for each message the Maildir has, from this run or an
//!    earlier one. Then `QUIT`, which commits the deletions.
//!
//! A cut connection or a killed process at any point leaves each message on the server, in
//! `new/` (whole), or both; the next run skips what is stored and finishes the deletions.
//!
//! ```no_run
//! use pop3_blocking::{Connector, TlsMode};
//! use pop3_cli::fetch::{fetch, Options};
//! use pop3_cli::maildir::Account;
//!
//! let mut pop = Connector::new("pop.example.com").connect().unwrap();
//! pop.login("alice", "secret").unwrap();
//! let options = Options { maildir: "Mail".into(), delete: false, all: false, crlf: false };
//! let report = fetch(pop, &Account::new("alice", "pop.example.com"), &options, &indicatif::ProgressBar::hidden());
//! println!("{}", report.summary); // fetched N, skipped M, deleted D
//! ```

use crate::maildir::{Account, CrlfToLf, Delivery, Maildir};
use bytes::Bytes;
use indicatif::ProgressBar;
use pop3_blocking::pop3_proto::procedures::{Batch, BatchItem};
use pop3_blocking::pop3_proto::{MsgNum, QuitOutcome, Status};
use pop3_blocking::Pop3;
use std::collections::{HashMap, HashSet};
use std::io;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// What to fetch, and where to.
#[derive(Debug, Clone)]
pub struct Options {
    /// The Maildir (created with `tmp/`, `new/` and `cur/` when missing).
    pub maildir: PathBuf,
    /// Delete from the server every message the Maildir durably holds, then QUIT.
    pub delete: bool,
    /// Fetch every message, also those stored before (and servers without UIDL).
    pub all: bool,
    /// Keep the wire's CRLF line ends (by default each CRLF becomes LF).
    pub crlf: bool,
}

/// The counts of a run, printed as its last line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages stored by this run.
    pub fetched: u64,
    /// Messages left alone because the Maildir had them.
    pub skipped: u64,
    /// Messages whose deletion the server confirmed (by its `+OK` to QUIT).
    pub deleted: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fetched {}, skipped {}, deleted {}",
            self.fetched, self.skipped, self.deleted
        )
    }
}

/// Why a run did not do all it was asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The Maildir could not be opened, locked or read.
    #[error("cannot use the Maildir {path}: {source}")]
    Maildir {
        /// The Maildir.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The server has no UIDL, so runs cannot tell what they fetched before.
    #[error(
        "the server does not support UIDL, so pop3 fetch cannot tell which messages it stored \
         before: run with --all to fetch every message (with --delete to remove each once stored)"
    )]
    NoUidl,
    /// The session failed (connection lost, timeout, protocol error…).
    #[error("{0}; every message stored so far is safe, and the next run goes on from there")]
    Session(#[source] pop3_blocking::Error),
    /// A message could not be written to the Maildir.
    #[error("cannot store a message: {0}; nothing was deleted from the server")]
    Store(#[source] io::Error),
    /// The server refused to send some messages.
    #[error("the server refused to send {count} message(s), first {msg}: {status}")]
    Refused {
        /// How many.
        count: usize,
        /// The first.
        msg: MsgNum,
        /// Its `-ERR`.
        status: Status,
    },
    /// The server refused a deletion; nothing was committed.
    #[error(
        "the server refused DELE {msg}: {status}; nothing was deleted (the messages are stored)"
    )]
    DeleRefused {
        /// The message.
        msg: MsgNum,
        /// Its `-ERR`.
        status: Status,
    },
    /// The server did not commit the deletions.
    #[error("the server did not confirm QUIT ({0}): some deletions may not have happened; the messages are stored, and the next run deletes what is left")]
    NotCommitted(Status),
    /// The connection ended before the server confirmed QUIT.
    #[error("the connection ended before the server confirmed QUIT: the deletions may not have happened; the next run finishes them")]
    QuitUnknown,
}

/// What a run did and, if it fell short, why.
#[derive(Debug)]
pub struct Report {
    /// The counts.
    pub summary: Summary,
    /// The first reason the run fell short; `None` is complete success.
    pub error: Option<FetchError>,
}

/// What the network side hands the writer thread.
enum Piece {
    Data(MsgNum, Bytes),
    End(MsgNum),
}

/// Pieces go to the writer in bundles, so a stream of small messages costs the writer one
/// wake-up per bundle, not per message. A bundle goes when it holds this many pieces…
const BUNDLE_PIECES: usize = 64;
/// …or this many bytes…
const BUNDLE_BYTES: usize = 256 << 10;
/// …or when it is this old as the next piece comes (from a slow server, messages go to the
/// writer as they come rather than sixty-four at a time).
const BUNDLE_AGE: Duration = Duration::from_millis(10);
/// How many bundles may wait for the writer: at most about a MiB in flight.
const BUNDLES_IN_FLIGHT: usize = 4;
/// A batch of finished messages commits when it has this many…
const BATCH_MESSAGES: usize = 512;
/// …or this many bytes…
const BATCH_BYTES: u64 = 32 << 20;
/// …or when the stream has paused this long.
const BATCH_IDLE: Duration = Duration::from_millis(20);

/// Runs a fetch on a logged-in session (the session ends here: QUIT, or dropped on error).
pub fn fetch(
    mut pop: Pop3,
    account: &Account,
    options: &Options,
    progress: &ProgressBar,
) -> Report {
    let mut summary = Summary::default();
    let maildir_error = |source| FetchError::Maildir {
        path: options.maildir.clone(),
        source,
    };
    let maildir = match Maildir::open(&options.maildir) {
        Ok(m) => m,
        Err(e) => return failed(summary, maildir_error(e)),
    };
    let lock = match maildir.lock() {
        Ok(lock) => lock,
        Err(e) => return failed(summary, maildir_error(e)),
    };
    if let Err(e) = maildir.clean_tmp(&lock).and_then(|_| maildir.sync_record()) {
        return failed(summary, maildir_error(e));
    }

    // Which messages there are, and which the Maildir has.
    let mut uids: Vec<(MsgNum, Vec<u8>)> = Vec::new();
    let has_uidl = match pop.uidl_each(|(msg, uid)| {
        uids.push((msg, uid.as_bytes().to_vec()));
        Ok(())
    }) {
        Ok(_) => true,
        Err(pop3_blocking::Error::Server { .. }) => false,
        Err(e) => return failed(summary, FetchError::Session(e)),
    };
    if !has_uidl && !options.all {
        let _ = pop.quit();
        return failed(summary, FetchError::NoUidl);
    }
    let mut sizes: HashMap<MsgNum, u64> = HashMap::new();
    if let Err(e) = pop.list_each(|entry| {
        sizes.insert(entry.msg, entry.size);
        Ok(())
    }) {
        return failed(summary, FetchError::Session(e));
    }
    let stored_before = match maildir.stored(account) {
        Ok(s) => s,
        Err(e) => return failed(summary, maildir_error(e)),
    };
    // A UIDL the server gives more than one message (popa3d's can collide) names neither:
    // such messages are fetched every run and never recorded, or a crash between the two
    // could later skip (and with --delete, delete) one that was never stored.
    let mut times_seen: HashMap<&[u8], usize> = HashMap::new();
    for (_, uid) in &uids {
        *times_seen.entry(uid.as_slice()).or_default() += 1;
    }
    let uid_of: HashMap<MsgNum, Vec<u8>> = uids
        .iter()
        .filter(|(_, uid)| times_seen[uid.as_slice()] == 1)
        .cloned()
        .collect();
    let ambiguous = uids.len() - uid_of.len();
    if ambiguous > 0 && !options.delete {
        eprintln!(
            "pop3: warning: the server gives {ambiguous} messages a UIDL it also gives another, \
             so they are fetched on every run; --delete takes them off the server once stored"
        );
    }
    let mut all: Vec<MsgNum> = sizes.keys().copied().collect();
    all.sort_unstable();
    let selected: Vec<MsgNum> = all
        .iter()
        .copied()
        .filter(|m| options.all || !uid_of.get(m).is_some_and(|u| stored_before.contains(u)))
        .collect();
    summary.skipped = (all.len() - selected.len()) as u64;

    progress.set_length(selected.iter().map(|m| sizes[m]).sum());
    progress.set_message(format!("0/{} messages", selected.len()));

    // Retrieve, with the writer storing as the bytes come.
    let (tx, rx) = sync_channel::<Vec<Piece>>(BUNDLES_IN_FLIGHT);
    let mut refused = Vec::new();
    let (retrieval, (stored_now, store_error)) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| write_messages(&maildir, account, &uid_of, options.crlf, rx));
        let mut received = 0usize;
        let total = selected.len();
        let mut bundle = Vec::new();
        let (mut bundle_bytes, mut bundle_since) = (0, Instant::now());
        let stopped = || io::Error::other("the Maildir writer stopped");
        let retrieval = pop.batch(Batch::retr(selected.iter().copied()), |item| {
            let piece = match item {
                BatchItem::Data { msg, data } => {
                    progress.inc(data.len() as u64);
                    bundle_bytes += data.len();
                    Piece::Data(msg, data)
                }
                BatchItem::Done { msg, .. } => {
                    received += 1;
                    progress.set_message(format!("{received}/{total} messages"));
                    Piece::End(msg)
                }
                BatchItem::Refused { msg, status } => {
                    refused.push((msg, status));
                    return Ok(());
                }
            };
            if bundle.is_empty() {
                bundle_since = Instant::now();
            }
            bundle.push(piece);
            if bundle.len() >= BUNDLE_PIECES
                || bundle_bytes >= BUNDLE_BYTES
                || bundle_since.elapsed() >= BUNDLE_AGE
            {
                bundle_bytes = 0;
                tx.send(std::mem::take(&mut bundle))
                    .map_err(|_| stopped())?;
            }
            Ok(())
        });
        // Also after a failure: the messages that came whole are stored.
        if !bundle.is_empty() {
            let _ = tx.send(bundle);
        }
        drop(tx);
        let written = writer.join().unwrap_or_else(|_| {
            (
                Vec::new(),
                Some(io::Error::other("the Maildir writer panicked")),
            )
        });
        (retrieval, written)
    });
    summary.fetched = stored_now.len() as u64;

    // Remember what is stored, also for when the user deletes the files.
    let mut stored_uids: HashSet<Vec<u8>> = stored_before;
    stored_uids.extend(stored_now.iter().filter_map(|m| uid_of.get(m).cloned()));
    if has_uidl {
        let on_server: HashSet<&Vec<u8>> = uid_of.values().collect();
        let keep: Vec<&[u8]> = stored_uids
            .iter()
            .filter(|u| on_server.contains(u))
            .map(Vec::as_slice)
            .collect();
        if let Err(e) = maildir.write_state(account, keep) {
            return failed(summary, maildir_error(e));
        }
    }

    if let Some(e) = store_error {
        return failed(summary, FetchError::Store(e));
    }
    if let Err(e) = retrieval {
        return failed(summary, FetchError::Session(e));
    }
    if stored_now.len() + refused.len() != selected.len() {
        let e = io::Error::other(format!(
            "{} of {} messages were neither stored nor refused",
            selected.len() - stored_now.len() - refused.len(),
            selected.len()
        ));
        return failed(summary, FetchError::Store(e));
    }
    let refused_error = refused.first().map(|(msg, status)| FetchError::Refused {
        count: refused.len(),
        msg: *msg,
        status: status.clone(),
    });

    if !options.delete {
        let _ = pop.quit();
        return Report {
            summary,
            error: refused_error,
        };
    }
    // Everything the Maildir durably holds goes; nothing else.
    let this_run: HashSet<MsgNum> = stored_now.iter().copied().collect();
    let doomed: Vec<MsgNum> = all
        .iter()
        .copied()
        .filter(|m| this_run.contains(m) || uid_of.get(m).is_some_and(|u| stored_uids.contains(u)))
        .collect();
    if !doomed.is_empty() {
        match pop.dele_many(&doomed) {
            Ok(report) => {
                if let Some((msg, status)) = report.refused.into_iter().next() {
                    // Leave without QUIT: the server rolls every mark back.
                    return failed(summary, FetchError::DeleRefused { msg, status });
                }
            }
            Err(e) => return failed(summary, FetchError::Session(e)),
        }
    }
    match pop.quit() {
        Ok(QuitOutcome::Committed(_)) => {
            summary.deleted = doomed.len() as u64;
            Report {
                summary,
                error: refused_error,
            }
        }
        Ok(QuitOutcome::NotCommitted(status)) => failed(summary, FetchError::NotCommitted(status)),
        Ok(_) => failed(summary, FetchError::QuitUnknown),
        Err(e) => failed(summary, FetchError::Session(e)),
    }
}

fn failed(summary: Summary, error: FetchError) -> Report {
    Report {
        summary,
        error: Some(error),
    }
}

/// The writer thread: stores each message under `tmp/` as its pieces come, and commits
/// finished ones in batches. Returns the messages made durable and the first error (after
/// which it stops taking pieces, so the retrieval stops too). A message whose end never came
/// is discarded.
fn write_messages(
    maildir: &Maildir,
    account: &Account,
    uid_of: &HashMap<MsgNum, Vec<u8>>,
    crlf: bool,
    rx: Receiver<Vec<Piece>>,
) -> (Vec<MsgNum>, Option<io::Error>) {
    let mut durable: Vec<MsgNum> = Vec::new();
    let mut batch = maildir.batch();
    let mut waiting: Vec<MsgNum> = Vec::new();
    let mut current: Option<(MsgNum, Delivery, CrlfToLf)> = None;
    let mut scratch = Vec::new();
    let mut commit = |batch: &mut crate::maildir::Batch<'_>, waiting: &mut Vec<MsgNum>| {
        batch.commit().map(|_| durable.append(waiting))
    };
    let result = (|| -> io::Result<()> {
        loop {
            let bundle = match rx.recv_timeout(BATCH_IDLE) {
                Ok(bundle) => bundle,
                Err(RecvTimeoutError::Timeout) => {
                    commit(&mut batch, &mut waiting)?;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            for piece in bundle {
                let (msg, data) = match piece {
                    Piece::Data(msg, data) => (msg, Some(data)),
                    Piece::End(msg) => (msg, None),
                };
                if current.as_ref().is_none_or(|(m, ..)| *m != msg) {
                    if let Some((m, unfinished, _)) = current.take() {
                        // The batch ends every body it starts: this would be a bug.
                        unfinished.discard();
                        return Err(io::Error::other(format!(
                            "message {m} was cut off by message {msg}"
                        )));
                    }
                    let delivery = maildir.create(account, uid_of.get(&msg).map(Vec::as_slice))?;
                    current = Some((msg, delivery, CrlfToLf::default()));
                }
                let (_, delivery, lf) = current.as_mut().expect("just set");
                match data {
                    Some(data) if crlf => delivery.write(&data)?,
                    Some(data) => {
                        scratch.clear();
                        lf.convert(&data, &mut scratch);
                        delivery.write(&scratch)?;
                    }
                    None => {
                        scratch.clear();
                        lf.finish(&mut scratch);
                        delivery.write(&scratch)?;
                        let (msg, delivery, _) = current.take().expect("just used");
                        batch.push(delivery)?;
                        waiting.push(msg);
                        if batch.len() >= BATCH_MESSAGES || batch.bytes() >= BATCH_BYTES {
                            commit(&mut batch, &mut waiting)?;
                        }
                    }
                }
            }
        }
        commit(&mut batch, &mut waiting)
    })();
    if let Some((_, unfinished, _)) = current.take() {
        unfinished.discard();
    }
    drop(rx); // before returning: a sender blocked on a full channel wakes with an error
    (durable, result.err())
}
