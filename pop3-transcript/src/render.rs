//! Events and procedure results as the one-line texts of `E:` lines.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;
use pop3_proto::procedures::BatchItem;
use pop3_proto::{Event, QuitOutcome};

/// Renders a run of events and procedure results, merging adjacent body chunks of the same
/// command (or message) into one `body` line, so that how the bytes were cut does not show.
#[derive(Debug, Default)]
pub struct Log {
    lines: Vec<String>,
    /// The body being merged: its key (`#` and the handle, or `msg ` and the message number)
    /// and bytes so far.
    body: Option<((&'static str, u64), Vec<u8>)>,
}

impl Log {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn add_body(&mut self, key: (&'static str, u64), data: &[u8]) {
        match &mut self.body {
            Some((k, bytes)) if *k == key => bytes.extend_from_slice(data),
            _ => {
                self.flush();
                self.body = Some((key, data.to_vec()));
            }
        }
    }

    fn flush(&mut self) {
        if let Some(((kind, id), bytes)) = self.body.take() {
            self.lines
                .push(format!("body {kind}{id} \"{}\"", escape(&bytes)));
        }
    }

    /// Adds one line as it is.
    pub fn line(&mut self, line: String) {
        self.flush();
        self.lines.push(line);
    }

    /// Adds an event.
    ///
    /// ```
    /// use pop3_proto::{Client, Config};
    /// use pop3_transcript::render::Log;
    /// let mut client = Client::new(Config::default());
    /// client.handle_input(b"+OK hi\r\n");
    /// let mut log = Log::new();
    /// log.event(&client.poll_event().unwrap().unwrap());
    /// assert_eq!(log.finish(), ["greeting +OK hi"]);
    /// ```
    pub fn event(&mut self, event: &Event) {
        if let Event::BodyChunk { handle, data } = event {
            self.add_body(("#", handle.get()), data);
        } else {
            self.line(render(event));
        }
    }

    /// Adds an item of a batch.
    pub fn batch_item(&mut self, item: &BatchItem) {
        match item {
            BatchItem::Data { msg, data } => self.add_body(("msg ", msg.get().into()), data),
            BatchItem::Done { msg, size } => self.line(format!("done msg {msg} {size}")),
            BatchItem::Refused { msg, status } => self.line(format!("refused msg {msg} {status}")),
        }
    }

    /// The lines, the last body included.
    pub fn finish(mut self) -> Vec<String> {
        self.flush();
        self.lines
    }
}

/// Bytes as transcript text: `\r`, `\n`, `\\`, `\"` and `\xNN` for the rest of non-ASCII.
pub fn escape(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            0x20..=0x7e => s.push(b as char),
            _ => {
                let _ = write!(s, "\\x{b:02x}");
            }
        }
    }
    s
}

/// How a QUIT ended, as `committed TEXT`, `not-committed TEXT` or `unknown`.
pub fn quit_outcome(outcome: &QuitOutcome) -> String {
    match outcome {
        QuitOutcome::Committed(s) => format!("committed {s}"),
        QuitOutcome::NotCommitted(s) => format!("not-committed {s}"),
        QuitOutcome::Unknown => String::from("unknown"),
    }
}

/// One event as an `E:` line (body chunks one by one; [`Log`] merges them).
pub fn render(event: &Event) -> String {
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
        Event::Closed { outcome, .. } => format!("closed #{h} {}", quit_outcome(outcome)),
        Event::BodyChunk { data, .. } => format!("body #{h} \"{}\"", escape(data)),
        other => format!("{other:?}"),
    }
}
