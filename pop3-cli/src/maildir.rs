//! Maildir delivery for `pop3 fetch`, and the record of which messages a Maildir holds.
//!
//! Delivery follows the Maildir convention: a message is written under `tmp/`, made durable,
//! renamed into `new/`, and the rename is made durable by syncing `new/`. A reader (or a crash)
//! never sees a partial file in `new/`.
//!
//! The record of what is stored is the Maildir itself: each delivered file's name carries the
//! account and the message's UIDL (`…,U=<account>-<uid in base64url>`), so the rename that
//! makes a message visible is the same step that records it. A mail reader moving the file to
//! `cur/` and adding flags keeps that part of the name. A state file beside the folders
//! (`pop3-fetch-<account>.uidls`) also remembers what earlier runs stored, so a message the
//! user has since deleted locally is not fetched again.
//!
//! ```no_run
//! use pop3_cli::maildir::{Account, Maildir};
//! # fn main() -> std::io::Result<()> {
//! let maildir = Maildir::open("Mail".as_ref())?;
//! let _lock = maildir.lock()?;
//! let account = Account::new("alice", "pop.example.com");
//! let mut batch = maildir.batch();
//! let mut message = maildir.create(&account, Some(b"uid-1"))?;
//! message.write(b"Subject: hi\n\nhello\n")?;
//! batch.push(message)?;
//! batch.commit()?; // now durable and recorded
//! assert!(maildir.stored(&account)?.contains(&b"uid-1"[..]));
//! # Ok(()) }
//! ```

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The part of a delivered file's name that records the account and the UIDL.
const MARK: &str = ",U=";
/// The lock file: one `pop3 fetch` per Maildir at a time.
const LOCK_FILE: &str = "pop3-fetch.lock";

/// A Maildir: `tmp/`, `new/` and `cur/` under one folder.
#[derive(Debug)]
pub struct Maildir {
    root: PathBuf,
    host: String,
    sequence: AtomicU64,
}

/// Who the messages came from: a short tag derived from `user@host`, stable across runs and
/// builds, so two accounts fetched into one Maildir keep separate records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    tag: String,
}

impl Account {
    /// The account of `user` at `host`.
    ///
    /// ```
    /// use pop3_cli::maildir::Account;
    /// assert_eq!(Account::new("a", "h"), Account::new("a", "h"));
    /// assert_ne!(Account::new("a", "h"), Account::new("b", "h"));
    /// ```
    pub fn new(user: &str, host: &str) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("{user}@{host}").as_bytes());
        let tag = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        Self { tag }
    }

    /// The tag in file names.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    fn state_file(&self) -> String {
        format!("pop3-fetch-{}.uidls", self.tag)
    }
}

/// Holds the Maildir's fetch lock until dropped.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

impl Maildir {
    /// Opens the Maildir at `root`, creating `root/{tmp,new,cur}` when missing.
    pub fn open(root: &Path) -> io::Result<Self> {
        let fresh = !root.join("new").is_dir();
        for sub in ["tmp", "new", "cur"] {
            std::fs::create_dir_all(root.join(sub))?;
        }
        if fresh {
            // The folders themselves must survive a crash before anything is renamed in.
            sync_dir(root)?;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        Ok(Self {
            root: root.to_path_buf(),
            host: hostname(),
            sequence: AtomicU64::new(0),
        })
    }

    /// The folder this Maildir is in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the fetch lock (`pop3-fetch.lock`), failing at once if another process has it.
    pub fn lock(&self) -> io::Result<Lock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK_FILE))?;
        match file.try_lock() {
            Ok(()) => Ok(Lock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "another pop3 fetch is delivering into {}",
                    self.root.display()
                ),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }

    /// Removes what an interrupted fetch left in `tmp/` (files with the fetch mark; other
    /// programs' files are theirs to clean). Call with the lock held. Returns how many.
    pub fn clean_tmp(&self, _lock: &Lock) -> io::Result<usize> {
        let mut removed = 0;
        for entry in std::fs::read_dir(self.root.join("tmp"))? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().contains(MARK) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Makes what `new/` and `cur/` list durable. A run killed between its renames and their
    /// sync leaves entries a later run would count as stored (and delete from the server)
    /// while a power cut could still undo them: call this before [`stored`](Self::stored).
    pub fn sync_record(&self) -> io::Result<()> {
        sync_dir(&self.root.join("new"))?;
        sync_dir(&self.root.join("cur"))
    }

    /// The UIDLs of `account` that this Maildir has stored: those in the names of the files
    /// in `new/` and `cur/`, and those the state file remembers.
    pub fn stored(&self, account: &Account) -> io::Result<HashSet<Vec<u8>>> {
        let mut uids = HashSet::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(self.root.join(sub))? {
                if let Some(uid) = uid_in_name(&entry?.file_name().to_string_lossy(), account) {
                    uids.insert(uid);
                }
            }
        }
        match std::fs::read_to_string(self.root.join(account.state_file())) {
            Ok(text) => uids.extend(text.lines().filter_map(|l| URL_SAFE_NO_PAD.decode(l).ok())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(uids)
    }

    /// The files in `new/` and `cur/` that hold `account`'s messages, by UIDL (more than one
    /// file for a UIDL would be a duplicate).
    pub fn files(&self, account: &Account) -> io::Result<HashMap<Vec<u8>, Vec<PathBuf>>> {
        let mut files: HashMap<Vec<u8>, Vec<PathBuf>> = HashMap::new();
        for sub in ["new", "cur"] {
            for entry in std::fs::read_dir(self.root.join(sub))? {
                let entry = entry?;
                if let Some(uid) = uid_in_name(&entry.file_name().to_string_lossy(), account) {
                    files.entry(uid).or_default().push(entry.path());
                }
            }
        }
        Ok(files)
    }

    /// Replaces the state file of `account` with `uids` (written aside, synced, renamed in).
    pub fn write_state<'a>(
        &self,
        account: &Account,
        uids: impl IntoIterator<Item = &'a [u8]>,
    ) -> io::Result<()> {
        let mut text = String::new();
        for uid in uids {
            text.push_str(&URL_SAFE_NO_PAD.encode(uid));
            text.push('\n');
        }
        let name = account.state_file();
        let aside = self.root.join(format!("{name}.new"));
        let mut file = File::create(&aside)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&aside, self.root.join(name))?;
        sync_dir(&self.root)
    }

    /// Starts a message in `tmp/`, named for `account` and `uid` (`None` when the server has
    /// no UIDL: such a message is stored but not recorded).
    pub fn create(&self, account: &Account, uid: Option<&[u8]>) -> io::Result<Delivery> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed);
        let mut name = format!(
            "{}.M{}P{}Q{}.{}{MARK}{}",
            now.as_secs(),
            now.subsec_micros(),
            std::process::id(),
            seq,
            self.host,
            account.tag
        );
        if let Some(uid) = uid {
            name.push('-');
            name.push_str(&URL_SAFE_NO_PAD.encode(uid));
        }
        let tmp = self.root.join("tmp").join(&name);
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        Ok(Delivery {
            file,
            tmp,
            new: self.root.join("new").join(name),
            written: 0,
        })
    }

    /// An empty batch of finished messages to make durable together.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            maildir: self,
            messages: Vec::new(),
            bytes: 0,
        }
    }
}

/// A message being written under `tmp/`.
#[derive(Debug)]
pub struct Delivery {
    file: File,
    tmp: PathBuf,
    new: PathBuf,
    written: u64,
}

impl Delivery {
    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.written += bytes.len() as u64;
        self.file.write_all(bytes)
    }

    /// Gives up on the message: its file in `tmp/` goes.
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// Finished messages waiting to become durable. Making many durable at once costs about what
/// one costs, so the fetcher commits a batch whenever the network gives it a pause or the batch
/// grows large.
#[derive(Debug)]
pub struct Batch<'a> {
    maildir: &'a Maildir,
    messages: Vec<Delivery>,
    bytes: u64,
}

impl Batch<'_> {
    /// Adds a finished message.
    pub fn push(&mut self, message: Delivery) -> io::Result<()> {
        self.bytes += message.written;
        self.messages.push(message);
        Ok(())
    }

    /// How many messages wait.
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    /// Whether none waits.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// How many bytes wait.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Makes every waiting message durable in `tmp/`, renames each into `new/`, and makes the
    /// renames durable; returns the paths in `new/`. Only after this returns is a message
    /// stored (and may be deleted from the server).
    pub fn commit(&mut self) -> io::Result<Vec<PathBuf>> {
        if self.messages.is_empty() {
            return Ok(Vec::new());
        }
        sync_files(&self.maildir.root, &self.messages)?;
        let mut done = Vec::with_capacity(self.messages.len());
        for message in self.messages.drain(..) {
            std::fs::rename(&message.tmp, &message.new)?;
            done.push(message.new);
        }
        self.bytes = 0;
        sync_dir(&self.maildir.root.join("new"))?;
        Ok(done)
    }
}

/// Makes the files' data durable. On Linux one `syncfs(2)` of the Maildir's file system
/// writes a whole batch out at once (far cheaper than an `fsync(2)` per file: the journal
/// commits once); then each file is still synced, which costs little with its data already
/// written and is what reports a write error on that file (`syncfs` reports only errors
/// after its own descriptor was opened, and before Linux 5.8 none at all).
fn sync_files(root: &Path, messages: &[Delivery]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if messages.len() > 1 {
        let dir = File::open(root.join("tmp"))?;
        rustix::fs::syncfs(&dir).map_err(io::Error::from)?;
    }
    let _ = root;
    messages.iter().try_for_each(|m| m.file.sync_all())
}

/// Makes a directory's entries (renames into it) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The UIDL recorded in a Maildir file name for `account`, if any.
fn uid_in_name(name: &str, account: &Account) -> Option<Vec<u8>> {
    let unique = name.split(':').next()?;
    let field = unique.split(',').find_map(|f| f.strip_prefix("U="))?;
    let encoded = field
        .strip_prefix(account.tag.as_str())?
        .strip_prefix('-')?;
    URL_SAFE_NO_PAD.decode(encoded).ok()
}

/// This machine's name, with the characters a Maildir name may not hold escaped as the
/// Maildir convention asks (`/` as `\057`, `:` as `\072`) and `,` too (it separates our
/// fields).
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default();
    let name = name.trim();
    let name = if name.is_empty() { "localhost" } else { name };
    name.replace('/', "\\057")
        .replace(':', "\\072")
        .replace(',', "\\054")
}

/// Turns each CRLF pair into LF as bytes stream by, in any chunking; a lone CR stays.
#[derive(Debug, Default)]
pub struct CrlfToLf {
    /// A CR ended the last chunk: whether it goes depends on the next byte.
    held_cr: bool,
}

impl CrlfToLf {
    /// Converts `chunk`, appending to `out`.
    ///
    /// ```
    /// use pop3_cli::maildir::CrlfToLf;
    /// let (mut lf, mut out) = (CrlfToLf::default(), Vec::new());
    /// lf.convert(b"a\r", &mut out);
    /// lf.convert(b"\nb\rc\r\n", &mut out);
    /// lf.finish(&mut out);
    /// assert_eq!(out, b"a\nb\rc\n");
    /// ```
    pub fn convert(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if chunk.is_empty() {
            return; // a held CR still waits for the next byte
        }
        let mut from = 0;
        if std::mem::take(&mut self.held_cr) && chunk.first() != Some(&b'\n') {
            out.push(b'\r');
        }
        for lf in memchr::memchr_iter(b'\n', chunk) {
            if lf > 0 && chunk[lf - 1] == b'\r' {
                out.extend_from_slice(&chunk[from..lf - 1]);
                from = lf;
            }
        }
        let rest = &chunk[from..];
        match rest.split_last() {
            Some((b'\r', head)) => {
                out.extend_from_slice(head);
                self.held_cr = true;
            }
            _ => out.extend_from_slice(rest),
        }
    }

    /// A whole message converted at once (what `pop3 fetch` stores for it by default).
    ///
    /// ```
    /// use pop3_cli::maildir::CrlfToLf;
    /// assert_eq!(CrlfToLf::whole(b"a\r\nb\rc\r\n"), b"a\nb\rc\n");
    /// ```
    pub fn whole(message: &[u8]) -> Vec<u8> {
        let (mut lf, mut out) = (Self::default(), Vec::with_capacity(message.len()));
        lf.convert(message, &mut out);
        lf.finish(&mut out);
        out
    }

    /// The end of the message: a CR still held is a lone CR.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.held_cr) {
            out.push(b'\r');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(chunks: &[&[u8]]) -> Vec<u8> {
        let (mut c, mut out) = (CrlfToLf::default(), Vec::new());
        for chunk in chunks {
            c.convert(chunk, &mut out);
        }
        c.finish(&mut out);
        out
    }

    #[test]
    fn only_crlf_pairs_change_wherever_the_chunks_are_cut() {
        let wire = b"\r\na\r\nb\rc\r\r\n\n.\r\n\r";
        let want = b"\na\nb\rc\r\n\n.\n\r";
        for cut in 0..=wire.len() {
            assert_eq!(lf(&[&wire[..cut], &wire[cut..]]), want, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(lf(&bytes), want);
        // An empty chunk between a CR and its LF changes nothing.
        assert_eq!(lf(&[b"a\r", b"", b"\nb"]), b"a\nb");
    }

    #[test]
    fn names_record_the_account_and_uid_and_survive_a_move_to_cur() {
        let dir = std::env::temp_dir().join(format!("pop3-maildir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let maildir = Maildir::open(&dir).unwrap();
        let lock = maildir.lock().unwrap();
        assert!(maildir.lock().is_err(), "a second lock must fail");
        let (alice, bob) = (Account::new("alice", "h"), Account::new("bob", "h"));
        let uid: &[u8] = b"weird/uid:with,all+sorts=";
        let mut batch = maildir.batch();
        for (account, uid) in [
            (&alice, Some(uid)),
            (&bob, Some(b"b1".as_slice())),
            (&alice, None),
        ] {
            let mut m = maildir.create(account, uid).unwrap();
            m.write(b"x").unwrap();
            batch.push(m).unwrap();
        }
        let stale = maildir.create(&alice, Some(b"partial")).unwrap();
        drop(stale);
        assert_eq!(batch.commit().unwrap().len(), 3);
        let stored = maildir.stored(&alice).unwrap();
        assert_eq!(stored, HashSet::from([uid.to_vec()]));
        // A mail reader moves the file to cur/ and adds flags: still recorded.
        let file = maildir.files(&alice).unwrap()[uid][0].clone();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::rename(&file, dir.join("cur").join(format!("{name}:2,S"))).unwrap();
        assert!(maildir.stored(&alice).unwrap().contains(uid));
        // Deleted locally, remembered by the state file.
        maildir.write_state(&alice, [uid]).unwrap();
        std::fs::remove_file(dir.join("cur").join(format!("{name}:2,S"))).unwrap();
        assert!(maildir.stored(&alice).unwrap().contains(uid));
        assert_eq!(maildir.clean_tmp(&lock).unwrap(), 1);
        assert_eq!(std::fs::read_dir(dir.join("tmp")).unwrap().count(), 0);
        drop(lock);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
