//! CAPA lines (RFC 2449, 5034, 6856) and the capability set they add up to.
//!
//! Parsing never fails: a line we don't understand, or a known tag with a bad value
//! (`LOGIN-DELAY abc`, `EXPIRE -1`), is kept as [`Capability::Other`] (BAD-INPUT row 36).

use crate::text::ServerText;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

/// One capability line.
///
/// ```
/// use pop3_proto::Capability;
///
/// assert_eq!(Capability::parse(b"top"), Capability::Top);
/// assert_eq!(Capability::parse(b"LOGIN-DELAY 900 USER"),
///            Capability::LoginDelay { seconds: 900, per_user: true });
/// assert!(matches!(Capability::parse(b"LOGIN-DELAY abc"), Capability::Other(_)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Capability {
    /// `TOP`: the TOP command works.
    Top,
    /// `USER`: USER/PASS login works.
    User,
    /// `SASL mech…`: AUTH works with these mechanisms (names as sent, upper-cased).
    Sasl(Vec<ServerText>),
    /// `RESP-CODES`: `-ERR` replies carry response codes.
    RespCodes,
    /// `LOGIN-DELAY n [USER]`: minimum seconds between logins.
    LoginDelay {
        /// Seconds between logins.
        seconds: u32,
        /// `true` when the value may differ per user (given again after login).
        per_user: bool,
    },
    /// `PIPELINING`: the server accepts commands without waiting for replies.
    Pipelining,
    /// `EXPIRE n|NEVER [USER]`: how long the server keeps retrieved messages.
    Expire {
        /// Days messages are kept, or `None` for `NEVER`.
        days: Option<u32>,
        /// `true` when the value may differ per user.
        per_user: bool,
    },
    /// `UIDL`: the UIDL command works.
    Uidl,
    /// `IMPLEMENTATION text`: the server's name and version, informational only.
    Implementation(ServerText),
    /// `STLS`: STARTTLS works (RFC 2595).
    Stls,
    /// `UTF8 [USER]`: UTF-8 mode is available (RFC 6856).
    Utf8 {
        /// `true` when UTF8 also applies to USER/PASS arguments.
        user: bool,
    },
    /// `LANG`: the LANG command works (RFC 6856).
    Lang,
    /// `AUTH-RESP-CODE`: `-ERR` to authentication carries `[AUTH]` (RFC 3206).
    AuthRespCode,
    /// Anything else, the whole line as sent.
    Other(ServerText),
}

impl Capability {
    /// Parses one CAPA line (without its line end). Tags are case-insensitive.
    pub fn parse(line: &[u8]) -> Self {
        let mut words = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        let Some(tag) = words.next() else {
            return Self::Other(ServerText::from_slice(line));
        };
        let args: Vec<&[u8]> = words.collect();
        let is = |name: &[u8]| tag.eq_ignore_ascii_case(name);
        let parsed = if is(b"TOP") && args.is_empty() {
            Some(Self::Top)
        } else if is(b"USER") && args.is_empty() {
            Some(Self::User)
        } else if is(b"SASL") {
            Some(Self::Sasl(
                args.iter()
                    .map(|m| ServerText::from_slice(&m.to_ascii_uppercase()))
                    .collect(),
            ))
        } else if is(b"RESP-CODES") && args.is_empty() {
            Some(Self::RespCodes)
        } else if is(b"LOGIN-DELAY") {
            parse_login_delay(&args)
        } else if is(b"PIPELINING") && args.is_empty() {
            Some(Self::Pipelining)
        } else if is(b"EXPIRE") {
            parse_expire(&args)
        } else if is(b"UIDL") && args.is_empty() {
            Some(Self::Uidl)
        } else if is(b"IMPLEMENTATION") {
            let text = &line[tag.len()..];
            let start = text
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .unwrap_or(text.len());
            Some(Self::Implementation(ServerText::from_slice(&text[start..])))
        } else if is(b"STLS") && args.is_empty() {
            Some(Self::Stls)
        } else if is(b"UTF8") {
            match args.as_slice() {
                [] => Some(Self::Utf8 { user: false }),
                [u] if u.eq_ignore_ascii_case(b"USER") => Some(Self::Utf8 { user: true }),
                _ => None,
            }
        } else if is(b"LANG") && args.is_empty() {
            Some(Self::Lang)
        } else if is(b"AUTH-RESP-CODE") && args.is_empty() {
            Some(Self::AuthRespCode)
        } else {
            None
        };
        parsed.unwrap_or_else(|| Self::Other(ServerText::from_slice(line)))
    }
}

fn per_user_flag(rest: &[&[u8]]) -> Option<bool> {
    match rest {
        [] => Some(false),
        [u] if u.eq_ignore_ascii_case(b"USER") => Some(true),
        _ => None,
    }
}

fn small_number(field: &[u8]) -> Option<u32> {
    let n = super::listing::parse_u64(field).ok()?;
    u32::try_from(n).ok()
}

fn parse_login_delay(args: &[&[u8]]) -> Option<Capability> {
    let (first, rest) = args.split_first()?;
    Some(Capability::LoginDelay {
        seconds: small_number(first)?,
        per_user: per_user_flag(rest)?,
    })
}

fn parse_expire(args: &[&[u8]]) -> Option<Capability> {
    let (first, rest) = args.split_first()?;
    let days = if first.eq_ignore_ascii_case(b"NEVER") {
        None
    } else {
        Some(small_number(first)?)
    };
    Some(Capability::Expire {
        days,
        per_user: per_user_flag(rest)?,
    })
}

/// Everything a CAPA response said, gathered (duplicates tolerated: the last value wins for
/// settings, mechanisms accumulate).
///
/// ```
/// use pop3_proto::{Capabilities, Capability};
///
/// let caps: Capabilities = [b"TOP".as_slice(), b"SASL PLAIN login", b"PIPELINING", b"X-FOO 1"]
///     .into_iter()
///     .map(Capability::parse)
///     .collect();
/// assert!(caps.top && caps.pipelining);
/// assert!(caps.has_sasl(b"LOGIN"));
/// assert_eq!(caps.other.len(), 1);
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Capabilities {
    /// `TOP` was listed.
    pub top: bool,
    /// `USER` was listed.
    pub user: bool,
    /// SASL mechanisms, upper-cased, in the order listed.
    pub sasl: Vec<ServerText>,
    /// `RESP-CODES` was listed.
    pub resp_codes: bool,
    /// `LOGIN-DELAY`, if listed: (seconds, per user).
    pub login_delay: Option<(u32, bool)>,
    /// `PIPELINING` was listed.
    pub pipelining: bool,
    /// `EXPIRE`, if listed: (days or `None` for NEVER, per user).
    pub expire: Option<(Option<u32>, bool)>,
    /// `UIDL` was listed.
    pub uidl: bool,
    /// `IMPLEMENTATION` text, if listed.
    pub implementation: Option<ServerText>,
    /// `STLS` was listed.
    pub stls: bool,
    /// `UTF8` was listed: `Some(true)` for `UTF8 USER`.
    pub utf8: Option<bool>,
    /// `LANG` was listed.
    pub lang: bool,
    /// `AUTH-RESP-CODE` was listed.
    pub auth_resp_code: bool,
    /// Lines this crate does not interpret, as sent.
    pub other: Vec<ServerText>,
    /// The mechanisms in `sasl`, for de-duplication in O(log n): a server listing thousands
    /// must not cost quadratic time. An index only: not part of equality or `Debug`.
    sasl_seen: BTreeSet<ServerText>,
}

impl Capabilities {
    /// Every field but the de-duplication index, for `PartialEq` and `Debug`.
    #[allow(clippy::type_complexity)]
    fn fields(
        &self,
    ) -> (
        (bool, bool, &[ServerText], bool, Option<(u32, bool)>, bool),
        (Option<(Option<u32>, bool)>, bool, &Option<ServerText>, bool),
        (Option<bool>, bool, bool, &[ServerText]),
    ) {
        (
            (
                self.top,
                self.user,
                &self.sasl,
                self.resp_codes,
                self.login_delay,
                self.pipelining,
            ),
            (self.expire, self.uidl, &self.implementation, self.stls),
            (self.utf8, self.lang, self.auth_resp_code, &self.other),
        )
    }
}

impl PartialEq for Capabilities {
    fn eq(&self, other: &Self) -> bool {
        self.fields() == other.fields()
    }
}

impl Eq for Capabilities {}

impl core::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Capabilities")
            .field("top", &self.top)
            .field("user", &self.user)
            .field("sasl", &self.sasl)
            .field("resp_codes", &self.resp_codes)
            .field("login_delay", &self.login_delay)
            .field("pipelining", &self.pipelining)
            .field("expire", &self.expire)
            .field("uidl", &self.uidl)
            .field("implementation", &self.implementation)
            .field("stls", &self.stls)
            .field("utf8", &self.utf8)
            .field("lang", &self.lang)
            .field("auth_resp_code", &self.auth_resp_code)
            .field("other", &self.other)
            .finish()
    }
}

impl Capabilities {
    /// Adds one capability line's meaning.
    pub fn add(&mut self, capability: Capability) {
        match capability {
            Capability::Top => self.top = true,
            Capability::User => self.user = true,
            Capability::Sasl(mechs) => {
                if self.sasl_seen.len() != self.sasl.len() {
                    // `sasl` was set by hand: index it again.
                    self.sasl_seen = self.sasl.iter().cloned().collect();
                }
                for m in mechs {
                    if self.sasl_seen.insert(m.clone()) {
                        self.sasl.push(m);
                    }
                }
            }
            Capability::RespCodes => self.resp_codes = true,
            Capability::LoginDelay { seconds, per_user } => {
                self.login_delay = Some((seconds, per_user))
            }
            Capability::Pipelining => self.pipelining = true,
            Capability::Expire { days, per_user } => self.expire = Some((days, per_user)),
            Capability::Uidl => self.uidl = true,
            Capability::Implementation(text) => self.implementation = Some(text),
            Capability::Stls => self.stls = true,
            Capability::Utf8 { user } => self.utf8 = Some(user),
            Capability::Lang => self.lang = true,
            Capability::AuthRespCode => self.auth_resp_code = true,
            Capability::Other(line) => self.other.push(line),
        }
    }

    /// Whether a SASL mechanism was listed (case-insensitive).
    pub fn has_sasl(&self, mechanism: &[u8]) -> bool {
        self.sasl
            .iter()
            .any(|m| m.as_bytes().eq_ignore_ascii_case(mechanism))
    }
}

impl core::fmt::Display for Capability {
    /// The capability as a CAPA line (server text escaped).
    ///
    /// ```
    /// use pop3_proto::Capability;
    /// assert_eq!(Capability::parse(b"expire never user").to_string(), "EXPIRE NEVER USER");
    /// ```
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let user = |per_user: bool| if per_user { " USER" } else { "" };
        match self {
            Self::Top => f.write_str("TOP"),
            Self::User => f.write_str("USER"),
            Self::Sasl(mechs) => {
                f.write_str("SASL")?;
                mechs.iter().try_for_each(|m| write!(f, " {m}"))
            }
            Self::RespCodes => f.write_str("RESP-CODES"),
            Self::LoginDelay { seconds, per_user } => {
                write!(f, "LOGIN-DELAY {seconds}{}", user(*per_user))
            }
            Self::Pipelining => f.write_str("PIPELINING"),
            Self::Expire { days, per_user } => match days {
                Some(days) => write!(f, "EXPIRE {days}{}", user(*per_user)),
                None => write!(f, "EXPIRE NEVER{}", user(*per_user)),
            },
            Self::Uidl => f.write_str("UIDL"),
            Self::Implementation(text) => write!(f, "IMPLEMENTATION {text}"),
            Self::Stls => f.write_str("STLS"),
            Self::Utf8 { user: u } => write!(f, "UTF8{}", user(*u)),
            Self::Lang => f.write_str("LANG"),
            Self::AuthRespCode => f.write_str("AUTH-RESP-CODE"),
            Self::Other(line) => write!(f, "{line}"),
        }
    }
}

impl Capabilities {
    /// The capabilities as CAPA lines, in a fixed order.
    ///
    /// ```
    /// use pop3_proto::{Capabilities, Capability};
    /// let caps: Capabilities = [b"UIDL".as_slice(), b"TOP"].into_iter().map(Capability::parse).collect();
    /// let lines: Vec<String> = caps.to_lines().iter().map(ToString::to_string).collect();
    /// assert_eq!(lines, ["TOP", "UIDL"]);
    /// ```
    pub fn to_lines(&self) -> Vec<Capability> {
        let flags = [
            (self.top, Capability::Top),
            (self.user, Capability::User),
            (!self.sasl.is_empty(), Capability::Sasl(self.sasl.clone())),
            (self.resp_codes, Capability::RespCodes),
            (self.pipelining, Capability::Pipelining),
            (self.uidl, Capability::Uidl),
            (self.stls, Capability::Stls),
            (self.lang, Capability::Lang),
            (self.auth_resp_code, Capability::AuthRespCode),
        ];
        let mut lines: Vec<Capability> = flags
            .into_iter()
            .filter_map(|(on, c)| on.then_some(c))
            .collect();
        if let Some((seconds, per_user)) = self.login_delay {
            lines.push(Capability::LoginDelay { seconds, per_user });
        }
        if let Some((days, per_user)) = self.expire {
            lines.push(Capability::Expire { days, per_user });
        }
        if let Some(user) = self.utf8 {
            lines.push(Capability::Utf8 { user });
        }
        if let Some(text) = &self.implementation {
            lines.push(Capability::Implementation(text.clone()));
        }
        lines.extend(self.other.iter().cloned().map(Capability::Other));
        lines
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        let mut caps = Self::default();
        for c in iter {
            caps.add(c);
        }
        caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_sasl_mechanisms_are_deduplicated_without_quadratic_work() {
        // 200,000 distinct names (and each once more): a linear scan per name would make
        // 2 * 10^10 comparisons here; the set makes a few million.
        let names: Vec<ServerText> = (0..200_000u32)
            .map(|i| ServerText::from_slice(alloc::format!("X-MECH-{i}").as_bytes()))
            .collect();
        let mut caps = Capabilities::default();
        caps.add(Capability::Sasl(names.clone()));
        caps.add(Capability::Sasl(names));
        assert_eq!(caps.sasl.len(), 200_000);
        assert!(caps.has_sasl(b"x-mech-199999"));
    }

    #[test]
    fn rfc_2449_example_and_oddities() {
        assert_eq!(
            Capability::parse(b"EXPIRE NEVER"),
            Capability::Expire {
                days: None,
                per_user: false
            }
        );
        assert!(matches!(
            Capability::parse(b"EXPIRE -1"),
            Capability::Other(_)
        ));
        assert!(matches!(
            Capability::parse(b"EXPIRE 99999999999"),
            Capability::Other(_)
        ));
        assert!(matches!(Capability::parse(b""), Capability::Other(_)));
        assert!(matches!(
            Capability::parse(b"TOP extra"),
            Capability::Other(_)
        ));
        assert_eq!(
            Capability::parse(b"utf8 user"),
            Capability::Utf8 { user: true }
        );
        assert_eq!(
            Capability::parse(b"IMPLEMENTATION Shlemazle-Plotz-v302"),
            Capability::Implementation(ServerText::from_slice(b"Shlemazle-Plotz-v302"))
        );
        assert_eq!(
            Capability::parse(b"SASL \xff\xfe"),
            Capability::Sasl(alloc::vec![ServerText::from_slice(b"\xff\xfe")])
        );
    }
}
