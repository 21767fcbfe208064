//! Transcript tests: every RFC example and every capability as an `S:`/`C:` trace, replayed
//! through a `Client` with the server's bytes fed whole, byte by byte, split at every index,
//! and through `read_space` — all must give identical events (after merging adjacent body
//! chunks), and those events must be the `E:` lines of the transcript.
//!
//! Transcript format (`tests/transcripts/*.txt`), one item per line:
//!
//! - `S: text` — a line the server sends (CRLF added); `S> text` sends it without CRLF.
//! - `C: text` — a line the client must send. It is also how the test knows what to ask the
//!   `Client` for: `USER x`, `APOP x digest` (with `# secret:`), `AUTH MECH [ir]` (the
//!   following `C:` lines are the mechanism's responses), `RAW text` / `RAW+ text` for raw
//!   single- and multi-line commands; anything else parses as the named command.
//! - `E: event` — an expected event, rendered as in `render` below.
//! - `X: error` — the expected fatal error (its `Debug`), which ends the replay.
//! - `# config: pipelining=on|off|auto, bare_lf, lowercase, loose, implicit_tls`
//! - `# secret: word` — the password used for APOP.
//! - `# eof` — the server closes the connection here.
//! - other `#` lines are comments.

use pop3_proto::sasl::{Mechanism, SaslError, SaslResponse};
use pop3_proto::{
    Client, Command, Config, Error, Event, LangTag, MechanismName, Password, Pipelining,
    QuitOutcome, RawLine, SessionState, UserName,
};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Debug, Clone)]
enum Item {
    Server(Vec<u8>),
    Client(String),
    Eof,
}

struct Transcript {
    name: String,
    config: Config,
    secret: String,
    items: Vec<Item>,
    events: Vec<String>,
    error: Option<String>,
}

fn parse_transcript(path: &Path) -> Transcript {
    let text = std::fs::read_to_string(path).unwrap();
    let mut t = Transcript {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        config: Config::default(),
        secret: String::new(),
        items: Vec::new(),
        events: Vec::new(),
        error: None,
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("S: ") {
            t.items.push(Item::Server(unescape(&format!("{rest}\r\n"))));
        } else if line == "S:" {
            t.items.push(Item::Server(b"\r\n".to_vec()));
        } else if let Some(rest) = line.strip_prefix("S> ") {
            t.items.push(Item::Server(unescape(rest)));
        } else if let Some(rest) = line.strip_prefix("C: ") {
            t.items.push(Item::Client(rest.to_owned()));
        } else if let Some(rest) = line.strip_prefix("E: ") {
            t.events.push(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("X: ") {
            t.error = Some(rest.to_owned());
        } else if let Some(rest) = line.strip_prefix("# config: ") {
            for opt in rest.split(',').map(str::trim) {
                match opt {
                    "pipelining=on" => t.config.pipelining = Pipelining::On,
                    "pipelining=off" => t.config.pipelining = Pipelining::Off,
                    "pipelining=auto" => t.config.pipelining = Pipelining::Auto,
                    "bare_lf" => t.config.lenient.bare_lf = true,
                    "lowercase" => t.config.lenient.lowercase_status = true,
                    "loose" => t.config.lenient.loose_separators = true,
                    "implicit_tls" => t.config.implicit_tls = true,
                    other => panic!("{}: unknown config {other}", t.name),
                }
            }
        } else if let Some(rest) = line.strip_prefix("# secret: ") {
            t.secret = rest.to_owned();
        } else if line == "# eof" {
            t.items.push(Item::Eof);
        } else if line.starts_with('#') || line.trim().is_empty() {
        } else {
            panic!("{}: cannot read line {line:?}", t.name);
        }
    }
    t
}

/// `\r`, `\n`, `\\` and `\xNN` escapes inside transcript lines.
fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'\\' => out.push(b'\\'),
                b't' => out.push(b'\t'),
                b'x' => {
                    out.push(u8::from_str_radix(&s[i + 2..i + 4], 16).unwrap());
                    i += 2;
                }
                other => panic!("bad escape \\{}", other as char),
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// A mechanism that replays the responses written in the transcript.
struct Scripted {
    name: MechanismName,
    initial: Option<Vec<u8>>,
    responses: VecDeque<Vec<u8>>,
}

impl Mechanism for Scripted {
    fn name(&self) -> MechanismName {
        self.name.clone()
    }
    fn initial_response(&mut self) -> Result<Option<SaslResponse>, SaslError> {
        Ok(self.initial.take().map(SaslResponse::new))
    }
    fn respond(&mut self, _challenge: &[u8]) -> Result<SaslResponse, SaslError> {
        self.responses
            .pop_front()
            .map(SaslResponse::new)
            .ok_or(SaslError::Failed("script has no more responses".into()))
    }
}

fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .expect("transcript SASL lines are base64")
}

/// How the server's bytes are cut into reads.
#[derive(Debug, Clone, Copy)]
enum Feed {
    Whole,
    ByteByByte,
    /// Every server block whole, except a cut at this offset of the whole server stream.
    SplitAt(usize),
    /// Through `read_space`/`commit_read`, whole blocks.
    ReadSpace,
}

struct Replay {
    events: Vec<String>,
    error: Option<String>,
    sent: Vec<u8>,
}

fn replay(t: &Transcript, feed: Feed) -> Replay {
    let mut client = Client::new(t.config.clone());
    let mut sent = Vec::new();
    let mut expected_sent = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut error = None;
    let mut offset = 0;
    let mut i = 0;
    'items: while i < t.items.len() {
        match &t.items[i] {
            Item::Client(line) => {
                let wire = line
                    .strip_prefix("RAW+ ")
                    .or_else(|| line.strip_prefix("RAW "))
                    .unwrap_or(line);
                expected_sent.extend_from_slice(&unescape(wire));
                expected_sent.extend_from_slice(b"\r\n");
                let in_sasl = client.state() == SessionState::Sasl;
                if !in_sasl {
                    let result = issue(&mut client, line, &t.items[i + 1..], &t.secret);
                    if let Err(e) = result {
                        error = Some(format!("{e:?}"));
                        break 'items;
                    }
                }
                client.poll_transmit(&mut sent);
            }
            Item::Eof => {
                client.handle_eof();
                if let Err(e) = drain(&mut client, &mut events, &mut sent) {
                    error = Some(format!("{e:?}"));
                    break 'items;
                }
            }
            Item::Server(_) => {
                // Causality: everything the transcript sent before this block went out.
                assert_eq!(
                    String::from_utf8_lossy(&sent),
                    String::from_utf8_lossy(&expected_sent),
                    "{}: client output before server block {i} ({feed:?})",
                    t.name
                );
                let mut block = Vec::new();
                while let Some(Item::Server(bytes)) = t.items.get(i) {
                    block.extend_from_slice(bytes);
                    i += 1;
                }
                let pieces: Vec<&[u8]> = match feed {
                    Feed::Whole | Feed::ReadSpace => vec![&block[..]],
                    Feed::ByteByByte => block.chunks(1).collect(),
                    Feed::SplitAt(at) if at > offset && at < offset + block.len() => {
                        let (a, b) = block.split_at(at - offset);
                        vec![a, b]
                    }
                    Feed::SplitAt(_) => vec![&block[..]],
                };
                offset += block.len();
                for piece in pieces {
                    if let Feed::ReadSpace = feed {
                        client.read_space()[..piece.len()].copy_from_slice(piece);
                        client.commit_read(piece.len()).unwrap();
                    } else {
                        client.handle_input(piece);
                    }
                    if let Err(e) = drain(&mut client, &mut events, &mut sent) {
                        error = Some(format!("{e:?}"));
                        break 'items;
                    }
                }
                continue;
            }
        }
        i += 1;
    }
    Replay {
        events: render_all(&events),
        error,
        sent,
    }
}

/// Takes every event available, acting on TLS upgrades, and transmits what became sendable.
fn drain(client: &mut Client, events: &mut Vec<Event>, sent: &mut Vec<u8>) -> Result<(), Error> {
    loop {
        match client.poll_event() {
            Ok(Some(event)) => {
                if let Event::UpgradeToTls { .. } = event {
                    client.tls_established().unwrap();
                }
                events.push(event);
            }
            Ok(None) => break,
            Err(e) => {
                assert_eq!(
                    client.poll_transmit(sent),
                    0,
                    "nothing is sent after an error"
                );
                return Err(e);
            }
        }
    }
    client.poll_transmit(sent);
    Ok(())
}

/// Asks the client for what a `C:` line says.
fn issue(client: &mut Client, line: &str, rest: &[Item], secret: &str) -> Result<(), Error> {
    let (word, arg) = line.split_once(' ').unwrap_or((line, ""));
    let num = |s: &str| s.parse::<u32>().unwrap().try_into().unwrap();
    let user = || UserName::new(arg).unwrap();
    let command = match word {
        "USER" => Command::User(UserName::new(unescape(arg)).unwrap()),
        "PASS" => Command::Pass(Password::new(arg).unwrap()),
        "RPOP" => Command::Rpop(user()),
        "APOP" => {
            let name = arg.split(' ').next().unwrap();
            client.apop(
                UserName::new(name).unwrap(),
                &Password::new(secret).unwrap(),
            )?;
            return Ok(());
        }
        "AUTH" => {
            let (mech, initial) = match arg.split_once(' ') {
                Some((m, "=")) => (m, Some(Vec::new())),
                Some((m, ir)) => (m, Some(b64(ir))),
                None => (arg, None),
            };
            // The responses are the C: lines up to the server's final status line.
            let mut responses = VecDeque::new();
            for item in rest {
                match item {
                    Item::Client(l) if l != "*" => responses.push_back(b64(l)),
                    Item::Server(s) if s.starts_with(b"+OK") || s.starts_with(b"-ERR") => break,
                    _ => {}
                }
            }
            let mechanism = Scripted {
                name: MechanismName::new(mech).unwrap(),
                initial,
                responses,
            };
            client.authenticate(Box::new(mechanism))?;
            return Ok(());
        }
        "STAT" => Command::Stat,
        "LIST" if arg.is_empty() => Command::List(None),
        "LIST" => Command::List(Some(num(arg))),
        "UIDL" if arg.is_empty() => Command::Uidl(None),
        "UIDL" => Command::Uidl(Some(num(arg))),
        "RETR" => Command::Retr(num(arg)),
        "TOP" => {
            let (m, n) = arg.split_once(' ').unwrap();
            Command::Top {
                msg: num(m),
                lines: n.parse().unwrap(),
            }
        }
        "DELE" => Command::Dele(num(arg)),
        "NOOP" => Command::Noop,
        "RSET" => Command::Rset,
        "QUIT" => Command::Quit,
        "CAPA" => Command::Capa,
        "STLS" => Command::Stls,
        "UTF8" => Command::Utf8,
        "LANG" if arg.is_empty() => Command::Lang(None),
        "LANG" => Command::Lang(Some(LangTag::new(arg).unwrap())),
        "RAW" => Command::Raw {
            line: RawLine::new(arg).unwrap(),
            multiline: false,
        },
        "RAW+" => Command::Raw {
            line: RawLine::new(arg).unwrap(),
            multiline: true,
        },
        other => panic!("transcript command {other} is not known"),
    };
    client.send(command).map(drop)
}

/// Renders events one per line, merging adjacent body chunks of the same command.
fn render_all(events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut body: Option<(u64, Vec<u8>)> = None;
    for event in events {
        if let Event::BodyChunk { handle, data } = event {
            assert!(!data.is_empty(), "empty body chunk");
            match &mut body {
                Some((h, bytes)) if *h == handle.get() => bytes.extend_from_slice(data),
                _ => body = Some((handle.get(), data.to_vec())),
            }
            continue;
        }
        if let Some((h, bytes)) = body.take() {
            out.push(format!("body #{h} \"{}\"", escape(&bytes)));
        }
        out.push(render(event));
    }
    if let Some((h, bytes)) = body {
        out.push(format!("body #{h} \"{}\"", escape(&bytes)));
    }
    out
}

fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => write!(s, "\\x{b:02x}").unwrap(),
        }
    }
    s
}

fn render(event: &Event) -> String {
    let h = event.handle().map_or(0, |h| h.get());
    match event {
        Event::Greeting(g) => match g.apop_timestamp() {
            Some(ts) => format!("greeting {} apop={ts:?}", g.status()),
            None => format!("greeting {}", g.status()),
        },
        Event::Status { status, .. } => format!("status #{h} {status}"),
        Event::Stat { stat, .. } => format!("stat #{h} {} {}", stat.count, stat.size),
        Event::ListEntry { entry, .. } => format!("list #{h} {} {}", entry.msg, entry.size),
        Event::ListOne { entry, .. } => format!("list-one #{h} {} {}", entry.msg, entry.size),
        Event::UidlEntry { msg, uid, .. } => format!("uidl #{h} {msg} {uid}"),
        Event::UidlOne { msg, uid, .. } => format!("uidl-one #{h} {msg} {uid}"),
        Event::CapaEntry { capability, .. } => format!("capa #{h} {capability:?}"),
        Event::LangEntry {
            tag, description, ..
        } => format!("lang #{h} {tag} {description}"),
        Event::MultiStart { status, .. } => format!("multi #{h} {status}"),
        Event::MultiEnd { .. } => format!("end #{h}"),
        Event::UpgradeToTls { .. } => format!("tls #{h}"),
        Event::Closed { outcome, .. } => match outcome {
            QuitOutcome::Committed(s) => format!("closed #{h} committed {s}"),
            QuitOutcome::NotCommitted(s) => format!("closed #{h} not-committed {s}"),
            QuitOutcome::Unknown => format!("closed #{h} unknown"),
        },
        Event::BodyChunk { .. } => unreachable!("merged by render_all"),
        other => format!("{other:?}"),
    }
}

fn transcripts() -> Vec<Transcript> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 20,
        "expected the transcript collection in {dir:?}"
    );
    paths.iter().map(|p| parse_transcript(p)).collect()
}

/// With `POP3_BLESS=1`, rewrites each transcript's `E:`/`X:` lines from what the client does
/// (review the diff before committing it).
fn bless(t: &Transcript, r: &Replay) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let path = dir.join(&t.name);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with("E: ") && !l.starts_with("X: "))
        .map(|l| format!("{l}\n"))
        .collect();
    while out.ends_with("\n\n") {
        out.pop();
    }
    out.push('\n');
    for e in &r.events {
        out.push_str(&format!("E: {e}\n"));
    }
    if let Some(x) = &r.error {
        out.push_str(&format!("X: {x}\n"));
    }
    std::fs::write(path, out).unwrap();
}

#[test]
fn transcripts_match_their_expected_events() {
    let mut failures = Vec::new();
    for t in transcripts() {
        let r = replay(&t, Feed::Whole);
        if std::env::var_os("POP3_BLESS").is_some() {
            bless(&t, &r);
            continue;
        }
        if r.events != t.events || r.error != t.error {
            failures.push(format!(
                "{}:\n  got events:\n    {}\n  got error: {:?}\n  wanted error: {:?}",
                t.name,
                r.events.join("\n    "),
                r.error,
                t.error
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn transcripts_are_chunking_invariant() {
    for t in transcripts() {
        let whole = replay(&t, Feed::Whole);
        let total: usize = t
            .items
            .iter()
            .map(|i| match i {
                Item::Server(b) => b.len(),
                _ => 0,
            })
            .sum();
        let mut feeds = vec![Feed::ByteByByte, Feed::ReadSpace];
        feeds.extend((1..total).map(Feed::SplitAt));
        for feed in feeds {
            let r = replay(&t, feed);
            assert_eq!(
                r.events, whole.events,
                "{}: events differ with {feed:?}",
                t.name
            );
            assert_eq!(
                r.error, whole.error,
                "{}: error differs with {feed:?}",
                t.name
            );
            assert_eq!(
                r.sent, whole.sent,
                "{}: output differs with {feed:?}",
                t.name
            );
        }
    }
}

#[test]
fn client_never_sends_quit_unless_the_transcript_does() {
    for t in transcripts() {
        let asked = t
            .items
            .iter()
            .any(|i| matches!(i, Item::Client(c) if c == "QUIT"));
        let r = replay(&t, Feed::Whole);
        let quit_sent = r.sent.windows(6).any(|w| w == b"QUIT\r\n");
        assert_eq!(quit_sent, asked, "{}", t.name);
    }
}
