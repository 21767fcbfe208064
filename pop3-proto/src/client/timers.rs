//! The session's deadlines: reply timeout, keepalive, and the low-speed limit. Time is a
//! parameter; the client tells this what it is waiting for and acts on what fires.

use super::config::LowSpeed;
use super::time::Instant;
use core::time::Duration;

/// What the session is doing, as far as its deadlines are concerned.
#[derive(Debug, Clone, Copy)]
pub(super) struct Waiting {
    /// Waiting for the server (greeting, a reply, the TLS handshake): what, for messages.
    pub(super) reply: Option<&'static str>,
    /// Whether the bytes of what we wait for reach the session (not during a TLS handshake,
    /// whose bytes the driver's TLS library consumes): only then is speed measured.
    pub(super) counts_bytes: bool,
    /// Logged in with nothing queued or in flight: keepalive time.
    pub(super) idle: bool,
}

/// What a call to [`Timers::on_time`] found due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fired {
    Nothing,
    /// No reply within the response timeout.
    Timeout(&'static str),
    /// Fewer bytes than the low-speed limit over its period.
    TooSlow(LowSpeed),
    /// Idle for the keepalive interval: send NOOP.
    KeepAlive,
}

#[derive(Debug, Default)]
pub(super) struct Timers {
    /// Bytes were read or written since the last `on_time`: the reply deadline restarts.
    activity: bool,
    response: Option<Instant>,
    keepalive: Option<Instant>,
    /// The low-speed window: when it started, and the byte count then.
    speed: Option<(Instant, u64)>,
    /// Bytes received over the session's life.
    received: u64,
}

impl Timers {
    pub(super) fn note_activity(&mut self) {
        self.activity = true;
    }

    pub(super) fn note_received(&mut self, n: usize) {
        self.activity = true;
        self.received += n as u64;
    }

    pub(super) fn clear(&mut self) {
        self.response = None;
        self.keepalive = None;
        self.speed = None;
    }

    pub(super) fn next_deadline(&self, low_speed: Option<LowSpeed>) -> Option<Instant> {
        let speed = self
            .speed
            .zip(low_speed)
            .map(|((start, _), limit)| start + limit.time);
        [self.response, self.keepalive, speed]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires what is due at `now`, then arms what `waiting` needs. Deadlines that stay armed
    /// keep their instant: a caller that asks often does not push them back.
    pub(super) fn on_time(
        &mut self,
        now: Instant,
        waiting: Waiting,
        response_timeout: Option<Duration>,
        keepalive_interval: Option<Duration>,
        low_speed: Option<LowSpeed>,
    ) -> Fired {
        if core::mem::take(&mut self.activity) {
            self.response = None;
            self.keepalive = None;
        }
        if let (Some(what), Some(deadline)) = (waiting.reply, self.response) {
            if now >= deadline {
                self.clear();
                return Fired::Timeout(what);
            }
        }
        if let (Some(limit), Some((start, at_start))) = (low_speed, self.speed) {
            if waiting.reply.is_some() && waiting.counts_bytes && now >= start + limit.time {
                if self.received - at_start < limit.bytes_per_period() {
                    self.clear();
                    return Fired::TooSlow(limit);
                }
                self.speed = Some((now, self.received));
            }
        }
        if let Some(deadline) = self.keepalive.filter(|_| waiting.idle) {
            if now >= deadline {
                self.keepalive = None;
                return Fired::KeepAlive;
            }
        }
        self.response = match (response_timeout, waiting.reply) {
            (Some(t), Some(_)) => Some(self.response.unwrap_or(now + t)),
            _ => None,
        };
        self.keepalive = match keepalive_interval {
            Some(t) if waiting.idle => Some(self.keepalive.unwrap_or(now + t)),
            _ => None,
        };
        self.speed = match low_speed {
            Some(_) if waiting.reply.is_some() && waiting.counts_bytes => {
                Some(self.speed.unwrap_or((now, self.received)))
            }
            _ => None,
        };
        Fired::Nothing
    }
}
