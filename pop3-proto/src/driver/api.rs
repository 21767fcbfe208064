//! The poplib-shaped methods both drivers offer, written once: each is one procedure run
//! through the driver's own `run` (blocking, or `async` with `.await`). A driver that
//! expands [`poplib_api!`](crate::poplib_api) has every method, with the same name, arguments
//! and meaning as the other one.

/// Expands to the poplib-shaped methods of a driver's session type: `blocking` or `tokio`.
///
/// The type must have `pump: Pump`, a `run(procedure, each)` method (`async` for `tokio`)
/// returning `Result<<P::Output as Finish>::Value>`, and `channel_binding(&self)`.
#[doc(hidden)]
#[macro_export]
macro_rules! poplib_api {
    (blocking) => {
        $crate::__poplib_api! { [] [] }
    };
    (tokio) => {
        $crate::__poplib_api! { [async] [.await] }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __poplib_api {
    ([$($async:tt)*] [$($await:tt)*]) => {
        /// The server's greeting (poplib's `getwelcome`). `None` after STLS: the one received
        /// in plaintext could have been written by an attacker, and servers send no new one.
        pub fn greeting(&self) -> Option<&$crate::Greeting> {
            self.pump.client().greeting()
        }

        /// The sans-IO session underneath (state, capabilities, configuration, the messages
        /// marked deleted).
        pub fn session(&self) -> &$crate::Client {
            self.pump.client()
        }

        /// Allows USER/PASS, APOP and SASL over a connection without TLS (off by default;
        /// see `Config::allow_plaintext_auth`). `connect_plain_insecure` turns it on.
        pub fn allow_insecure_auth(&mut self, allow: bool) {
            self.pump.client_mut().set_allow_plaintext_auth(allow);
        }

        /// `USER name`. Refused over plaintext unless `allow_insecure_auth`.
        pub $($async)* fn user(&mut self, name: &str) -> $crate::driver::Result<$crate::Status> {
            let name = $crate::UserName::new(name)?;
            self.run($crate::procedures::Exchange::user(name), |n| match n {}) $($await)*
        }

        /// `PASS secret` (never shown in traces). Refused over plaintext unless
        /// `allow_insecure_auth`.
        pub $($async)* fn pass(&mut self, secret: &str) -> $crate::driver::Result<$crate::Status> {
            let secret = $crate::Password::new(secret)?;
            self.run($crate::procedures::Exchange::pass(secret), |n| match n {}) $($await)*
        }

        /// USER, then PASS only after USER's `+OK` (a server that refused the name never
        /// sees the password). A refusal is `Error::Server` naming `USER` or `PASS`.
        pub $($async)* fn login(&mut self, name: &str, secret: &str) -> $crate::driver::Result<$crate::Status> {
            let user = $crate::UserName::new(name)?;
            let pass = $crate::Password::new(secret)?;
            let credentials = $crate::procedures::Credentials::UserPass { user, pass };
            self.run($crate::procedures::Login::new(credentials), |n| match n {}) $($await)*
        }

        /// Logs in with the strongest method both sides support (see `procedures::Auto`):
        /// SCRAM-SHA-256 > SCRAM-SHA-1 > CRAM-MD5 > APOP > PLAIN > LOGIN > USER/PASS, all but
        /// SCRAM only over TLS (or with `allow_insecure_auth`). One method is tried; a refusal
        /// is reported, never followed by a weaker attempt. The SCRAM-…-PLUS variants only when
        /// asked for (`login_auto_only` with `Method::ALL`): see `Method::DEFAULT` for why.
        pub $($async)* fn login_auto(&mut self, name: &str, secret: &str) -> $crate::driver::Result<$crate::Status> {
            self.login_auto_only(name, secret, &$crate::procedures::Method::DEFAULT) $($await)*
        }

        /// `login_auto`, choosing only among `methods` (still strongest first; the -PLUS
        /// variants among them need a TLS 1.3 connection).
        pub $($async)* fn login_auto_only(
            &mut self,
            name: &str,
            secret: &str,
            methods: &[$crate::procedures::Method],
        ) -> $crate::driver::Result<$crate::Status> {
            let user = $crate::UserName::new(name)?;
            let secret = $crate::Password::new(secret)?;
            let auto = $crate::procedures::Auto::new(user, secret, &$crate::driver::nonce()?)
                .channel_binding(self.channel_binding())
                .only(methods);
            let credentials = $crate::procedures::Credentials::Auto(auto);
            self.run($crate::procedures::Login::new(credentials), |n| match n {}) $($await)*
        }

        /// `APOP name digest`, with the digest made from the greeting's timestamp. Refused
        /// over plaintext unless `allow_insecure_auth`: APOP's MD5 is easy to crack from a
        /// captured session.
        pub $($async)* fn apop(&mut self, name: &str, secret: &str) -> $crate::driver::Result<$crate::Status> {
            let user = $crate::UserName::new(name)?;
            let secret = $crate::Password::new(secret)?;
            let credentials = $crate::procedures::Credentials::Apop { user, secret };
            self.run($crate::procedures::Login::new(credentials), |n| match n {}) $($await)*
        }

        /// `RPOP user` (RFC 1081; after USER).
        pub $($async)* fn rpop(&mut self, user: &str) -> $crate::driver::Result<$crate::Status> {
            let user = $crate::UserName::new(user)?;
            self.run($crate::procedures::Exchange::rpop(user), |n| match n {}) $($await)*
        }

        /// `AUTH`: a SASL exchange driven by `mechanism` (see `pop3_proto::sasl`).
        pub $($async)* fn auth(
            &mut self,
            mechanism: impl $crate::sasl::Mechanism + 'static,
        ) -> $crate::driver::Result<$crate::Status> {
            let credentials = $crate::procedures::Credentials::Sasl(Box::new(mechanism));
            self.run($crate::procedures::Login::new(credentials), |n| match n {}) $($await)*
        }

        /// `UTF8` (RFC 6856).
        pub $($async)* fn utf8(&mut self) -> $crate::driver::Result<$crate::Status> {
            self.run($crate::procedures::Exchange::utf8(), |n| match n {}) $($await)*
        }

        /// `LANG tag` (RFC 6856); `"*"` asks for the server's default.
        pub $($async)* fn lang(&mut self, tag: &str) -> $crate::driver::Result<$crate::Status> {
            let tag = $crate::LangTag::new(tag)?;
            self.run($crate::procedures::Exchange::lang(tag), |n| match n {}) $($await)*
        }

        /// `LANG` without argument: the languages offered, as (tag, description).
        pub $($async)* fn lang_list(
            &mut self,
        ) -> $crate::driver::Result<Vec<($crate::ServerText, $crate::ServerText)>> {
            let limit = self.session().config().max_collected_entries;
            let lang = $crate::procedures::Multi::lang_list();
            self.run($crate::procedures::Collect::entries(lang, limit), |n| match n {}) $($await)*
        }

        /// `CAPA`: the server's capabilities (also remembered by the session).
        pub $($async)* fn capa(&mut self) -> $crate::driver::Result<$crate::Capabilities> {
            self.run($crate::procedures::Multi::capa(), |_| Ok(())) $($await)*?;
            Ok(self.session().capabilities().cloned().unwrap_or_default())
        }

        /// `CAPA`, each capability line handed to `each` in the server's order.
        pub $($async)* fn capa_each(
            &mut self,
            each: impl FnMut($crate::Capability) -> std::io::Result<()>,
        ) -> $crate::driver::Result<u64> {
            self.run($crate::procedures::Multi::capa(), each) $($await)*
        }

        /// `STAT`: message count and total size.
        pub $($async)* fn stat(&mut self) -> $crate::driver::Result<$crate::Stat> {
            self.run($crate::procedures::Exchange::stat(), |n| match n {}) $($await)*
        }

        /// `LIST` into memory: every message's number and size, at most
        /// `Config::max_collected_entries` (`Error::TooLarge` beyond; the session goes on):
        /// use `list_each` for any size.
        pub $($async)* fn list(&mut self) -> $crate::driver::Result<Vec<$crate::ScanListing>> {
            let collect = $crate::procedures::Collect::list(self.session());
            self.run(collect, |n| match n {}) $($await)*
        }

        /// `LIST`, each entry handed to `each` as it arrives (constant memory); returns how
        /// many.
        pub $($async)* fn list_each(
            &mut self,
            each: impl FnMut($crate::ScanListing) -> std::io::Result<()>,
        ) -> $crate::driver::Result<u64> {
            self.run($crate::procedures::Multi::list(), each) $($await)*
        }

        /// `LIST n`: one message's size.
        pub $($async)* fn list_one(&mut self, msg: $crate::MsgNum) -> $crate::driver::Result<$crate::ScanListing> {
            self.run($crate::procedures::Exchange::list_one(msg), |n| match n {}) $($await)*
        }

        /// `UIDL` into memory, within `Config::max_collected_entries`: use `uidl_each` for
        /// any size.
        pub $($async)* fn uidl(&mut self) -> $crate::driver::Result<Vec<($crate::MsgNum, $crate::Uid)>> {
            let collect = $crate::procedures::Collect::uidl(self.session());
            self.run(collect, |n| match n {}) $($await)*
        }

        /// `UIDL`, each entry handed to `each` as it arrives (constant memory); returns how
        /// many.
        pub $($async)* fn uidl_each(
            &mut self,
            each: impl FnMut(($crate::MsgNum, $crate::Uid)) -> std::io::Result<()>,
        ) -> $crate::driver::Result<u64> {
            self.run($crate::procedures::Multi::uidl(), each) $($await)*
        }

        /// `UIDL n`: one message's unique id.
        pub $($async)* fn uidl_one(&mut self, msg: $crate::MsgNum) -> $crate::driver::Result<$crate::Uid> {
            self.run($crate::procedures::Exchange::uidl_one(msg), |n| match n {}) $($await)*
        }

        /// `RETR n` into memory, at most `Config::max_collected_body` bytes
        /// (`Error::TooLarge` beyond; the session goes on): prefer `retr_to` or
        /// `retr_reader` for large mail.
        pub $($async)* fn retr(&mut self, msg: $crate::MsgNum) -> $crate::driver::Result<Vec<u8>> {
            let limit = self.session().config().max_collected_body;
            let retr = $crate::procedures::Multi::retr(msg);
            self.run($crate::procedures::Collect::body(retr, limit), |n| match n {}) $($await)*
        }

        /// `TOP n lines` into memory (headers plus `lines` body lines), within
        /// `Config::max_collected_body`.
        pub $($async)* fn top(&mut self, msg: $crate::MsgNum, lines: u32) -> $crate::driver::Result<Vec<u8>> {
            let limit = self.session().config().max_collected_body;
            let top = $crate::procedures::Multi::top(msg, lines);
            self.run($crate::procedures::Collect::body(top, limit), |n| match n {}) $($await)*
        }

        /// `DELE n`: marks a message deleted. Only `quit`'s `+OK` commits it; `rset` undoes
        /// it.
        pub $($async)* fn dele(&mut self, msg: $crate::MsgNum) -> $crate::driver::Result<$crate::Status> {
            self.run($crate::procedures::Exchange::dele(msg), |n| match n {}) $($await)*
        }

        /// `NOOP`.
        pub $($async)* fn noop(&mut self) -> $crate::driver::Result<$crate::Status> {
            self.run($crate::procedures::Exchange::noop(), |n| match n {}) $($await)*
        }

        /// `RSET`: unmarks every deletion.
        pub $($async)* fn rset(&mut self) -> $crate::driver::Result<$crate::Status> {
            self.run($crate::procedures::Exchange::rset(), |n| match n {}) $($await)*
        }

        /// Sends the keepalive NOOP if the session has been idle for
        /// `Config::keepalive_interval`, and waits for its reply. The session runs its clock
        /// only while a call runs: call this from an idle loop to keep a server's
        /// autologout timer from ending the session (every other call also sends a due
        /// keepalive first).
        pub $($async)* fn keep_alive(&mut self) -> $crate::driver::Result<()> {
            self.run($crate::procedures::Idle::new(), |n| match n {}) $($await)*
        }

        /// `QUIT`: ends the session. Only `QuitOutcome::Committed` means deletions happened;
        /// a connection lost after QUIT went out (EOF, reset, timeout) is
        /// `QuitOutcome::Unknown`, not an error.
        pub $($async)* fn quit(mut self) -> $crate::driver::Result<$crate::QuitOutcome> {
            self.run($crate::procedures::Quit::new(), |n| match n {}) $($await)*
        }

        /// Retrieves many messages, pipelined when the server advertises PIPELINING (one at
        /// a time otherwise), handing each body to `sink` as it streams in. Messages the
        /// server refuses are reported, not fatal. An error from `sink` ends the call (the
        /// rest of the replies are skipped by the next call).
        pub $($async)* fn retr_many(
            &mut self,
            msgs: &[$crate::MsgNum],
            mut sink: impl FnMut($crate::MsgNum, $crate::driver::Part<'_>) -> std::io::Result<()>,
        ) -> $crate::driver::Result<$crate::procedures::BatchReport> {
            use $crate::procedures::BatchItem;
            let batch = $crate::procedures::Batch::retr(msgs.iter().copied());
            self.run(batch, |item| match item {
                BatchItem::Data { msg, data } => sink(msg, $crate::driver::Part::Data(&data)),
                BatchItem::Done { msg, .. } => sink(msg, $crate::driver::Part::End),
                _ => Ok(()),
            }) $($await)*
        }

        /// Runs any batch, each item to `each` (for callers that want the per-message
        /// outcomes as they happen, such as a fetcher that stores each message when it is
        /// done).
        pub $($async)* fn batch(
            &mut self,
            batch: $crate::procedures::Batch,
            each: impl FnMut($crate::procedures::BatchItem) -> std::io::Result<()>,
        ) -> $crate::driver::Result<$crate::procedures::BatchReport> {
            self.run(batch, each) $($await)*
        }

        /// Marks many messages deleted, pipelined when possible; commit with `quit`. If the
        /// call is abandoned midway, the DELEs already sent stay sent
        /// (`Client::marked_deleted` shows what the server marked); the rest are withdrawn.
        pub $($async)* fn dele_many(
            &mut self,
            msgs: &[$crate::MsgNum],
        ) -> $crate::driver::Result<$crate::procedures::BatchReport> {
            let batch = $crate::procedures::Batch::dele(msgs.iter().copied());
            self.run(batch, |_| Ok(())) $($await)*
        }
    };
}

/// Expands to the builder methods of a driver's `Connector(Settings)` newtype: the same
/// names, arguments and defaults in both drivers, delegating to
/// [`Settings`](crate::driver::Settings). The driver adds `connect`.
#[doc(hidden)]
#[macro_export]
macro_rules! connector_api {
    () => {
        /// Settings for `host` with the defaults.
        pub fn new(host: impl Into<String>) -> Self {
            Self($crate::driver::Settings::new(host))
        }

        /// The port (default: 995 for implicit TLS, 110 otherwise).
        pub fn port(self, port: u16) -> Self {
            Self(self.0.port(port))
        }

        /// How the connection is protected.
        pub fn tls_mode(self, mode: $crate::driver::TlsMode) -> Self {
            Self(self.0.tls_mode(mode))
        }

        /// Your own rustls configuration (custom roots, client certificates, …).
        pub fn tls_config(
            self,
            config: std::sync::Arc<$crate::driver::__rustls::ClientConfig>,
        ) -> Self {
            Self(self.0.tls_config(config))
        }

        /// Trusts only the CA certificates in this PEM file.
        pub fn ca_file(self, path: impl AsRef<std::path::Path>) -> $crate::driver::Result<Self> {
            self.0.ca_file(path).map(Self)
        }

        /// How long to wait for the TCP connection.
        pub fn connect_timeout(self, timeout: std::time::Duration) -> Self {
            Self(self.0.connect_timeout(timeout))
        }

        /// How long the server may stay silent while a reply (or the greeting, or the TLS
        /// handshake) is due; `None` waits forever (not recommended).
        pub fn timeout(self, timeout: impl Into<Option<std::time::Duration>>) -> Self {
            Self(self.0.timeout(timeout))
        }

        /// Session settings of the core (pipelining, limits, low-speed limit, keepalive).
        pub fn session_config(self, config: $crate::Config) -> Self {
            Self(self.0.session_config(config))
        }

        /// Lets the login calls send credentials over a connection without TLS.
        pub fn allow_insecure_auth(self, allow: bool) -> Self {
            Self(self.0.allow_insecure_auth(allow))
        }

        /// The settings, as the core holds them.
        pub fn settings(&self) -> &$crate::driver::Settings {
            &self.0
        }
    };
}
