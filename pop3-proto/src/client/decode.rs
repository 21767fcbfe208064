//! The decoder: bytes in the receive buffer become events. Which parser runs is decided by
//! the head of the in-flight queue (its `Expect`); the parsers themselves are in
//! [`crate::codec`]. Every state change goes through `SessionState::next` (state.rs).

use super::pending::{Expect, Wire};
use super::{quote, Client, Event, QuitOutcome, RemoteError, Secret, SessionState, Transition};
use crate::codec::capa::{Capabilities, Capability};
use crate::codec::dot::Step;
use crate::codec::greeting::{sniff_protocol, Greeting, OtherProtocol};
use crate::codec::line::{find_line, LineError, LineScan};
use crate::codec::listing::{parse_scan_listing, parse_stat, parse_uid_listing, Uid};
use crate::codec::status::{parse_status, Status};
use crate::command::Command;
use crate::text::ServerText;
use crate::Handle;
use alloc::vec::Vec;
use base64::Engine as _;

/// What the decoder is in the middle of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reading {
    /// A status line (or SASL continuation) for the head of the in-flight queue.
    Status,
    /// A dot-stuffed body.
    Body,
    /// Lines of a multi-line listing until `.`.
    Lines {
        kind: LineKind,
        count: u64,
        last_msg: u32,
    },
    /// Skipping an oversized SASL challenge line before cancelling the exchange.
    DiscardLine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineKind {
    List,
    Uidl,
    Capa,
    Lang,
}

impl LineKind {
    fn name(self) -> &'static str {
        match self {
            Self::List => "LIST",
            Self::Uidl => "UIDL",
            Self::Capa => "CAPA",
            Self::Lang => "LANG",
        }
    }
}

impl Client {
    /// Decodes until an event is ready or input runs out.
    pub(super) fn decode(&mut self) -> Result<Option<Event>, RemoteError> {
        loop {
            let progress = match self.reading {
                _ if self.state() == SessionState::Closed => return Ok(None),
                Reading::Body => self.decode_body()?,
                Reading::Lines { .. } => self.decode_listing_line()?,
                Reading::DiscardLine => self.discard_line()?,
                Reading::Status if self.state() == SessionState::Greeting => {
                    self.decode_greeting()?
                }
                Reading::Status => self.decode_reply()?,
            };
            match progress {
                Progress::Event(event) => return Ok(Some(event)),
                Progress::Continue => {}
                Progress::NeedMore => return self.need_more(),
            }
        }
    }

    /// No complete unit in the buffer: wait, or explain what the end of stream cut short.
    fn need_more(&mut self) -> Result<Option<Event>, RemoteError> {
        if !self.eof {
            return Ok(None);
        }
        let head = self.in_flight.front().map(|p| p.expect);
        Err(match (self.reading, head) {
            (_, _) if self.state() == SessionState::Greeting => RemoteError::ConnectionClosed {
                when: "before sending its greeting",
            },
            (Reading::Body, _) => RemoteError::Truncated {
                what: "a message body",
            },
            (Reading::Lines { .. }, _) => RemoteError::Truncated { what: "a listing" },
            (_, Some(Expect::Quit)) => {
                let handle = self.in_flight.pop_front().map(|p| p.handle);
                self.close()?;
                return Ok(handle.map(|handle| Event::Closed {
                    handle,
                    outcome: QuitOutcome::Unknown,
                }));
            }
            (_, Some(_)) if !self.recv.is_empty() => RemoteError::Truncated { what: "a reply" },
            (_, Some(_)) => RemoteError::ConnectionClosed {
                when: "while commands were waiting for replies",
            },
            (_, None) => RemoteError::ConnectionClosed {
                when: "unexpectedly (it may have timed out the idle session)",
            },
        })
    }

    fn close(&mut self) -> Result<(), RemoteError> {
        self.apply(Transition::Closed)?;
        self.recv.clear();
        self.queue.clear();
        self.in_flight.clear();
        self.sasl = None;
        self.timers.clear();
        Ok(())
    }

    /// Finds one line of at most `limit` bytes; `Ok(None)` if incomplete.
    fn next_line(
        &mut self,
        limit: usize,
        waiting_for: &'static str,
    ) -> Result<Option<(usize, usize)>, RemoteError> {
        let bare_lf = self.bare_lf();
        #[cfg(test)]
        {
            let searched = self.recv.data().len().min(limit);
            self.recv.scan_work += searched.saturating_sub(self.recv.scanned) as u64;
        }
        match find_line(self.recv.data(), self.recv.scanned, limit, bare_lf) {
            Ok(LineScan::Complete { content, consumed }) => Ok(Some((content, consumed))),
            Ok(LineScan::Incomplete { scanned }) => {
                self.recv.scanned = scanned;
                Ok(None)
            }
            Err(problem) => Err(RemoteError::BadLine {
                problem,
                waiting_for,
            }),
        }
    }

    fn decode_greeting(&mut self) -> Result<Progress, RemoteError> {
        let data = self.recv.data();
        // TLS records have no lines to wait for: name them at once. Text protocols are
        // named from the whole line, so that chunking cannot change the verdict.
        if sniff_protocol(data) == Some(OtherProtocol::Tls) {
            return Err(RemoteError::NotPop3 {
                protocol: Some(OtherProtocol::Tls),
                line: quote(data),
            });
        }
        let line = match self.next_line(self.config.max_line_length, "waiting for the greeting") {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(Progress::NeedMore),
            Err(e) => return Err(self.not_pop3_or(e)),
        };
        let (content, consumed) = line;
        let text = &self.recv.data()[..content];
        let greeting = match Greeting::parse(text, self.config.lenient) {
            Ok(g) => g,
            Err(_) => {
                return Err(RemoteError::NotPop3 {
                    protocol: sniff_protocol(text),
                    line: quote(text),
                })
            }
        };
        self.recv.advance(consumed);
        if !greeting.status().is_ok() {
            return Err(RemoteError::GreetingRejected {
                status: greeting.status().clone(),
            });
        }
        self.apply(Transition::Greeted)?;
        self.greeting = Some(greeting.clone());
        Ok(Progress::Event(Event::Greeting(greeting)))
    }

    /// A line error in the greeting from something that is not POP3 is reported as such.
    fn not_pop3_or(&self, error: RemoteError) -> RemoteError {
        let data = self.recv.data();
        match sniff_protocol(data) {
            Some(protocol) => RemoteError::NotPop3 {
                protocol: Some(protocol),
                line: quote(data),
            },
            None => error,
        }
    }

    /// A status line (or SASL continuation) for the head of the in-flight queue.
    fn decode_reply(&mut self) -> Result<Progress, RemoteError> {
        if self.recv.is_empty() {
            return Ok(Progress::NeedMore);
        }
        let Some(head) = self.in_flight.front() else {
            return Err(RemoteError::Unsolicited {
                data: quote(self.recv.data()),
            });
        };
        // A reply must have arrived after its command (or SASL response) left.
        if self.recv.transmitted_at_front() < head.seq {
            return Err(RemoteError::Unsolicited {
                data: quote(self.recv.data()),
            });
        }
        let (expect, handle, keyword) = (head.expect, head.handle, head.keyword());
        let limit = if expect == Expect::Sasl {
            self.config.max_sasl_line_length
        } else {
            self.config.max_line_length
        };
        let (content, consumed) = match self.next_line(limit, "reading a reply") {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(Progress::NeedMore),
            Err(RemoteError::BadLine {
                problem: LineError::TooLong { .. },
                ..
            }) if expect == Expect::Sasl => {
                self.cancel_sasl(RemoteError::SaslAborted {
                    reason: "the server's challenge is longer than Config::max_sasl_line_length",
                });
                self.reading = Reading::DiscardLine;
                return Ok(Progress::Continue);
            }
            Err(e) => return Err(e),
        };
        let line = &self.recv.data()[..content];
        if expect == Expect::Sasl && line.first() == Some(&b'+') && !line.starts_with(b"+OK") {
            let challenge = line.strip_prefix(b"+ ").map(<[u8]>::to_vec);
            self.recv.advance(consumed);
            self.sasl_challenge(challenge)?;
            return Ok(Progress::Continue);
        }
        let status = match parse_status(line, self.config.lenient) {
            Ok(s) => s,
            Err(_) => {
                return Err(RemoteError::BadStatusLine {
                    command: keyword,
                    line: quote(line),
                })
            }
        };
        let ok = status.indicator == crate::codec::status::Indicator::Ok;
        let lenient = self.config.lenient.loose_separators;
        // What this reply means, decided while the line is borrowed; applied after.
        let outcome = if !ok {
            Outcome::Status
        } else {
            match expect {
                Expect::Stat => match parse_stat(status.text, lenient) {
                    Ok(stat) => Outcome::Event(Event::Stat { handle, stat }),
                    Err(problem) => return Err(bad_listing("STAT", status.text, problem)),
                },
                Expect::List(Some(asked)) => match parse_scan_listing(status.text, lenient) {
                    Ok(entry) if entry.msg == asked => {
                        Outcome::Event(Event::ListOne { handle, entry })
                    }
                    Ok(entry) => {
                        return Err(RemoteError::WrongMessage {
                            what: "LIST",
                            asked: asked.get(),
                            got: entry.msg.get(),
                        })
                    }
                    Err(problem) => return Err(bad_listing("LIST", status.text, problem)),
                },
                Expect::Uidl(Some(asked)) => {
                    match parse_uid_listing(status.text, lenient, self.config.max_uid_length) {
                        Ok(l) if l.msg == asked => Outcome::Event(Event::UidlOne {
                            handle,
                            msg: l.msg,
                            uid: Uid::new(l.uid, self.config.max_uid_length)
                                .map_err(|p| bad_listing("UIDL", status.text, p))?,
                        }),
                        Ok(l) => {
                            return Err(RemoteError::WrongMessage {
                                what: "UIDL",
                                asked: asked.get(),
                                got: l.msg.get(),
                            })
                        }
                        Err(problem) => return Err(bad_listing("UIDL", status.text, problem)),
                    }
                }
                Expect::List(None) => Outcome::Multi(Reading::Lines {
                    kind: LineKind::List,
                    count: 0,
                    last_msg: 0,
                }),
                Expect::Uidl(None) => Outcome::Multi(Reading::Lines {
                    kind: LineKind::Uidl,
                    count: 0,
                    last_msg: 0,
                }),
                Expect::Capa => Outcome::Multi(Reading::Lines {
                    kind: LineKind::Capa,
                    count: 0,
                    last_msg: 0,
                }),
                Expect::LangList => Outcome::Multi(Reading::Lines {
                    kind: LineKind::Lang,
                    count: 0,
                    last_msg: 0,
                }),
                Expect::Body => Outcome::Multi(Reading::Body),
                Expect::Simple
                | Expect::Login
                | Expect::Stls
                | Expect::Quit
                | Expect::Sasl
                | Expect::KeepAlive => Outcome::Status,
            }
        };
        let status = Status::from_line(status);
        self.recv.advance(consumed);
        match outcome {
            Outcome::Event(event) => {
                self.in_flight.pop_front();
                Ok(Progress::Event(event))
            }
            Outcome::Multi(reading) => {
                if reading == Reading::Body {
                    // Decided per body: bare LF never ends lines once pipelining is on.
                    self.unstuffer.reset(self.bare_lf());
                }
                if matches!(
                    reading,
                    Reading::Lines {
                        kind: LineKind::Capa,
                        ..
                    }
                ) {
                    self.capa_building = Capabilities::default();
                }
                self.reading = reading;
                Ok(Progress::Event(Event::MultiStart { handle, status }))
            }
            Outcome::Status => self.finish_status(expect, handle, status),
        }
    }

    /// Applies a single-line reply: the state changes it causes, and its event.
    fn finish_status(
        &mut self,
        expect: Expect,
        handle: Handle,
        status: Status,
    ) -> Result<Progress, RemoteError> {
        let pending = self.in_flight.pop_front();
        let ok = status.is_ok();
        match expect {
            Expect::Login if ok => self.apply(Transition::LoggedIn)?,
            Expect::Sasl => {
                let exchange = self.sasl.take();
                if let Some(error) = exchange.as_ref().and_then(|x| x.cancelled.clone()) {
                    return Err(error);
                }
                if ok {
                    if let Some(mut exchange) = exchange {
                        exchange.mechanism.finish().map_err(RemoteError::Sasl)?;
                    }
                    self.apply(Transition::LoggedIn)?;
                } else {
                    self.auth_failure_detail = exchange.and_then(|x| x.mechanism.failure_detail());
                    self.apply(Transition::SaslFailed)?;
                }
            }
            Expect::Stls if ok => {
                if !self.recv.is_empty() {
                    return Err(RemoteError::DataAfterStls {
                        data: quote(self.recv.data()),
                    });
                }
                self.apply(Transition::StlsAccepted)?;
                return Ok(Progress::Event(Event::UpgradeToTls { handle }));
            }
            Expect::Quit => {
                let outcome = if ok {
                    QuitOutcome::Committed(status)
                } else {
                    QuitOutcome::NotCommitted(status)
                };
                // Whatever follows QUIT's reply is ignored (BAD-INPUT row 15).
                self.close()?;
                return Ok(Progress::Event(Event::Closed { handle, outcome }));
            }
            Expect::KeepAlive => return Ok(Progress::Continue),
            Expect::Simple if ok && self.state() == SessionState::Transaction => {
                match pending.as_ref().map(|p| &p.wire) {
                    Some(Wire::Command(Command::Dele(n))) => {
                        self.apply(Transition::Deleted(n.get()))?
                    }
                    Some(Wire::Command(Command::Rset)) => self.apply(Transition::Reset)?,
                    _ => {}
                }
            }
            _ => {}
        }
        if pending.as_ref().is_some_and(|p| p.keyword() == "USER") {
            self.apply(if ok {
                Transition::UserAccepted
            } else {
                Transition::UserRefused
            })?;
        }
        Ok(Progress::Event(Event::Status { handle, status }))
    }

    /// Answers a `+ ` line: `challenge` is its text, `None` if it was `+` without a space.
    fn sasl_challenge(&mut self, challenge: Option<Vec<u8>>) -> Result<(), RemoteError> {
        let Some(exchange) = self.sasl.as_mut() else {
            return Err(RemoteError::SaslAborted {
                reason: "a SASL challenge arrived outside an AUTH exchange",
            });
        };
        if exchange.cancelled.is_some() {
            return Err(RemoteError::SaslAborted {
                reason: "the server sent another challenge after we cancelled",
            });
        }
        if exchange.outgoing.is_some() {
            // A challenge before our answer to the last one left: not a reply to anything.
            return Err(RemoteError::Unsolicited {
                data: crate::text::ServerText::from_slice(b"+ (a second SASL challenge)"),
            });
        }
        if exchange.abandoned {
            exchange.outgoing = Some(Secret::new(b"*\r\n".to_vec()));
            return Ok(());
        }
        exchange.rounds += 1;
        let reason = if exchange.rounds > self.config.max_sasl_rounds {
            Some("too many challenges (Config::max_sasl_rounds)")
        } else {
            None
        };
        let decoded = challenge.ok_or("a continuation line without the space after '+'");
        let decoded = decoded.and_then(|text| {
            base64::engine::general_purpose::STANDARD
                .decode(&text)
                .map_err(|_| "a challenge that is not valid base64")
        });
        let response = match (reason, decoded) {
            (Some(reason), _) | (None, Err(reason)) => Err(RemoteError::SaslAborted { reason }),
            (None, Ok(challenge)) => match exchange.deferred_initial.take() {
                Some(initial) if challenge.is_empty() => Ok(initial),
                _ => exchange
                    .mechanism
                    .respond(&challenge)
                    .map_err(RemoteError::Sasl),
            },
        };
        match response {
            Ok(response) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(response.as_bytes());
                let mut line = Secret::new(encoded.into_bytes());
                line.extend_from_slice(b"\r\n");
                exchange.outgoing = Some(line);
            }
            Err(error) => self.cancel_sasl(error),
        }
        Ok(())
    }

    /// Sends `*` and remembers why: the exchange ends in `error` once the server answers.
    pub(super) fn cancel_sasl(&mut self, error: RemoteError) {
        if let Some(exchange) = self.sasl.as_mut() {
            exchange.outgoing = Some(Secret::new(b"*\r\n".to_vec()));
            exchange.cancelled = Some(error);
        }
    }

    /// Skips the rest of an oversized SASL line.
    fn discard_line(&mut self) -> Result<Progress, RemoteError> {
        match memchr::memchr(b'\n', self.recv.data()) {
            Some(i) => {
                self.recv.advance(i + 1);
                self.reading = Reading::Status;
                Ok(Progress::Continue)
            }
            None => {
                let n = self.recv.data().len();
                self.recv.advance(n);
                Ok(Progress::NeedMore)
            }
        }
    }

    /// The reply whose body is being read, if one is.
    #[inline]
    pub(super) fn body_handle(&self) -> Option<Handle> {
        if self.reading != Reading::Body || self.state() == SessionState::Closed {
            return None;
        }
        self.in_flight.front().map(|pending| pending.handle)
    }

    /// The length of the next run of body bytes when the buffer starts with one (stuffed dots
    /// before it already dropped), not yet consumed. The unstuffer has already moved past
    /// the run: the caller must take exactly those `n` bytes (`split_to` or `advance`)
    /// before anything else reads the buffer. `None` with nothing consumed for the end
    /// of the body and a partial line: those are left to [`decode_body`], which gets the same
    /// answer from `Unstuffer::step` (`End` and `NeedMore` consume nothing).
    ///
    /// [`decode_body`]: Self::decode_body
    #[inline]
    pub(super) fn body_run(&mut self) -> Option<(Handle, usize)> {
        let handle = self.body_handle()?;
        loop {
            match self.unstuffer.step(self.recv.data()) {
                Step::Data(n) => return Some((handle, n)),
                Step::SkipDot => self.recv.advance(1),
                Step::End(_) | Step::NeedMore => return None,
            }
        }
    }

    fn decode_body(&mut self) -> Result<Progress, RemoteError> {
        let Some(handle) = self.in_flight.front().map(|p| p.handle) else {
            return Ok(Progress::NeedMore);
        };
        loop {
            match self.unstuffer.step(self.recv.data()) {
                Step::Data(n) => {
                    let data = self.recv.split_to(n);
                    return Ok(Progress::Event(Event::BodyChunk { handle, data }));
                }
                Step::SkipDot => self.recv.advance(1),
                Step::End(n) => {
                    self.recv.advance(n);
                    self.in_flight.pop_front();
                    self.reading = Reading::Status;
                    return Ok(Progress::Event(Event::MultiEnd { handle }));
                }
                Step::NeedMore => return Ok(Progress::NeedMore),
            }
        }
    }

    fn decode_listing_line(&mut self) -> Result<Progress, RemoteError> {
        let Reading::Lines {
            kind,
            count,
            last_msg,
        } = self.reading
        else {
            return Ok(Progress::Continue);
        };
        let Some(handle) = self.in_flight.front().map(|p| p.handle) else {
            return Ok(Progress::NeedMore);
        };
        let Some((content, consumed)) =
            self.next_line(self.config.max_line_length, "reading a listing")?
        else {
            return Ok(Progress::NeedMore);
        };
        let line = &self.recv.data()[..content];
        if line == b"." {
            self.recv.advance(consumed);
            self.in_flight.pop_front();
            self.reading = Reading::Status;
            if kind == LineKind::Capa {
                self.capabilities = Some(core::mem::take(&mut self.capa_building));
            }
            return Ok(Progress::Event(Event::MultiEnd { handle }));
        }
        let limit = match kind {
            LineKind::Capa => self.config.max_capa_lines,
            _ => self.config.max_listing_entries,
        };
        if count >= limit {
            return Err(RemoteError::TooManyLines {
                what: kind.name(),
                limit,
            });
        }
        // Listings are dot-stuffed like bodies; no valid entry starts with a dot, but a
        // stuffed one is still unstuffed before it is judged.
        let line = line.strip_prefix(b".").unwrap_or(line);
        let lenient = self.config.lenient.loose_separators;
        let (event, msg) = match kind {
            LineKind::List => {
                let entry =
                    parse_scan_listing(line, lenient).map_err(|p| bad_listing("LIST", line, p))?;
                (Event::ListEntry { handle, entry }, entry.msg.get())
            }
            LineKind::Uidl => {
                let max = self.config.max_uid_length;
                let l = parse_uid_listing(line, lenient, max)
                    .map_err(|p| bad_listing("UIDL", line, p))?;
                let uid = Uid::new(l.uid, max).map_err(|p| bad_listing("UIDL", line, p))?;
                let msg = l.msg;
                (Event::UidlEntry { handle, msg, uid }, msg.get())
            }
            LineKind::Capa => {
                let capability = Capability::parse(line);
                self.capa_building.add(capability.clone());
                (Event::CapaEntry { handle, capability }, 0)
            }
            LineKind::Lang => {
                let (tag, description) = match memchr::memchr(b' ', line) {
                    Some(i) => (&line[..i], &line[i + 1..]),
                    None => (line, &b""[..]),
                };
                let event = Event::LangEntry {
                    handle,
                    tag: ServerText::from_slice(tag),
                    description: ServerText::from_slice(description),
                };
                (event, 0)
            }
        };
        if matches!(kind, LineKind::List | LineKind::Uidl) && msg <= last_msg {
            return Err(RemoteError::ListingOutOfOrder {
                what: kind.name(),
                previous: last_msg,
                got: msg,
            });
        }
        self.recv.advance(consumed);
        self.reading = Reading::Lines {
            kind,
            count: count + 1,
            last_msg: msg.max(last_msg),
        };
        Ok(Progress::Event(event))
    }
}

/// What one decoding step achieved.
enum Progress {
    Event(Event),
    Continue,
    NeedMore,
}

/// What a status line means for the command it answers.
enum Outcome {
    Event(Event),
    Multi(Reading),
    Status,
}

fn bad_listing(
    what: &'static str,
    line: &[u8],
    problem: crate::codec::listing::ListingError,
) -> RemoteError {
    RemoteError::BadListing {
        what,
        line: quote(line),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Client, Command, Config, Event};

    /// BAD-INPUT row 47: a maximum-length line fed one byte per read costs linear work. The
    /// bytes searched for a line end are counted, not timed.
    #[test]
    fn a_max_length_line_fed_byte_by_byte_is_searched_once() {
        let mut client = Client::new(Config::default());
        client.handle_input(b"+OK\r\n");
        assert!(matches!(client.poll_event(), Ok(Some(Event::Greeting(_)))));
        client.send(Command::Capa).unwrap();
        client.poll_transmit(&mut alloc::vec::Vec::new());
        let limit = client.config().max_line_length;
        let mut line = alloc::vec![b'+', b'O', b'K', b' '];
        line.resize(limit - 2, b'x');
        line.extend_from_slice(b"\r\n");
        let before = client.recv.scan_work;
        for &byte in &line {
            client.handle_input(&[byte]);
            while let Some(event) = client.poll_event().unwrap() {
                assert!(matches!(event, Event::MultiStart { .. }), "{event:?}");
            }
        }
        let work = client.recv.scan_work - before;
        // Each byte searched once (a rescan per read would be limit^2 / 2 = 131,072).
        assert!(
            work <= line.len() as u64,
            "searched {work} bytes for a {}-byte line",
            line.len()
        );
    }
}
