//! `pop3`: a command-line POP3 client on `pop3-blocking`, and a POP3 server over Maildirs
//! (`pop3 serve`) on `pop3-tokio`.
//!
//! ```text
//! cargo install --path pop3-cli          # puts `pop3` in ~/.cargo/bin
//! POP3_PASSWORD=… pop3 --host pop.example.com --user alice retr 1 > message.eml
//! ```
//!
//! Exit status: 0 when everything asked for happened (a body arrived whole; for `dele`, the
//! server's `+OK` to QUIT confirmed the deletions), 1 on an error (one line on stderr), 2 on a
//! usage error. The password comes from an environment variable, never the command line.

use clap::{Parser, Subcommand, ValueEnum};
use pop3_blocking::pop3_proto::driver::nonce;
use pop3_blocking::pop3_proto::sasl::{
    self, Anonymous, CramMd5, External, OAuthBearer, Plain, Scram, ScramHash, XOAuth2,
};
use pop3_blocking::pop3_proto::{Config, LowSpeed, MsgNum, Password, QuitOutcome};
use pop3_blocking::{tls, Connector, Pop3, TlsMode};
use std::io::Write;
use std::process::ExitCode;

use pop3_cli::{demo, fetch, maildir, serve};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "pop3",
    version,
    about = "Talk to a POP3 server, or serve Maildirs over POP3"
)]
struct Args {
    /// Server host name or IP address (required for every command but serve and
    /// hash-password).
    #[arg(long)]
    host: Option<String>,
    /// Server port [default: 995 with --tls implicit, else 110].
    #[arg(long)]
    port: Option<u16>,
    /// How the connection is protected.
    #[arg(long, value_enum, default_value_t = Tls::Implicit)]
    tls: Tls,
    /// Trust only the CA certificates in this PEM file (default: the system's roots).
    #[arg(long, value_name = "PEM")]
    ca_file: Option<std::path::PathBuf>,
    /// User name.
    #[arg(long)]
    user: Option<String>,
    /// Environment variable holding the password.
    #[arg(long, value_name = "VAR", default_value = "POP3_PASSWORD")]
    password_env: String,
    /// How to log in. `auto` picks the strongest method both sides support (SCRAM-SHA-256 >
    /// SCRAM-SHA-1 > CRAM-MD5 > APOP > PLAIN > LOGIN > USER/PASS; those that expose the
    /// password only over TLS or with --tls none) and tries only that one. The SCRAM-…-PLUS
    /// variants (TLS channel binding) only when named: servers differ in the binding they
    /// accept (Cyrus 3.6 offers them but refuses tls-exporter, the one TLS 1.3 defines).
    #[arg(long, value_enum, default_value_t = Auth::Auto)]
    auth: Auth,
    /// Environment variable holding the OAuth 2.0 access token (--auth xoauth2/oauthbearer).
    #[arg(long, value_name = "VAR", default_value = "POP3_TOKEN")]
    token_env: String,
    /// PEM client certificate (chain) to present in TLS, for --auth external.
    #[arg(long, value_name = "PEM", requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// PEM private key of --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<std::path::PathBuf>,
    /// Seconds any connect, read or write may take.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    timeout: u64,
    /// Fail when the server sends fewer than BYTES per second, on average over
    /// --speed-time seconds, while a reply is due (like curl's --speed-limit).
    #[arg(long, value_name = "BYTES")]
    speed_limit: Option<u32>,
    /// The period of --speed-limit, in seconds [default: 30 when --speed-limit is given].
    #[arg(long, value_name = "SECS", requires = "speed_limit")]
    speed_time: Option<u64>,
    /// Print the protocol trace (passwords redacted) on stderr (in colour only when stderr is
    /// a terminal).
    #[arg(long)]
    trace: bool,
    /// Send UTF8 (RFC 6856) before logging in: `auto` when the server advertises it (so
    /// servers such as Courier hand out messages with 8-bit headers as they are instead of a
    /// replacement notice), `on` always (fail if refused), `off` never.
    #[arg(long, value_enum, default_value_t = Utf8::Auto)]
    utf8: Utf8,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Utf8 {
    /// When the server's CAPA lists UTF8.
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Tls {
    Implicit,
    Starttls,
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Auth {
    /// The strongest method both sides support (the default).
    Auto,
    /// USER then PASS.
    User,
    /// APOP (needs the greeting's timestamp).
    Apop,
    /// SASL PLAIN.
    Plain,
    /// SASL LOGIN.
    Login,
    /// SASL CRAM-MD5.
    CramMd5,
    /// SASL SCRAM-SHA-1.
    ScramSha1,
    /// SASL SCRAM-SHA-256.
    ScramSha256,
    /// SASL SCRAM-SHA-1-PLUS (TLS channel binding).
    ScramSha1Plus,
    /// SASL SCRAM-SHA-256-PLUS (TLS channel binding).
    ScramSha256Plus,
    /// SASL XOAUTH2 with the token from --token-env.
    Xoauth2,
    /// SASL OAUTHBEARER with the token from --token-env.
    Oauthbearer,
    /// SASL EXTERNAL: the TLS client certificate (--cert, --key) is the credential.
    External,
    /// SASL ANONYMOUS (the user name, if any, as the trace string).
    Anonymous,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// The server's capabilities, one per line in the server's order (asked before logging
    /// in).
    Capa,
    /// `COUNT SIZE` of the maildrop.
    Stat,
    /// `N SIZE` for every message, or for message N.
    List { msg: Option<MsgNum> },
    /// `N UID` for every message, or for message N.
    Uidl { msg: Option<MsgNum> },
    /// Message N, byte-exact, to stdout.
    Retr { msg: MsgNum },
    /// The headers and first LINES body lines of message N, to stdout.
    Top { msg: MsgNum, lines: u32 },
    /// Delete messages (committed only when the server confirms QUIT).
    Dele {
        #[arg(required = true)]
        msgs: Vec<MsgNum>,
    },
    /// Check the session is alive.
    Noop,
    /// Serve the Maildirs ROOT/USER/{cur,new} over POP3 until stopped (loopback by default).
    /// Users and their password hashes come from --users (`user:hash` lines; see
    /// hash-password); a second session on a maildrop gets -ERR [IN-USE]; QUIT unlinks the
    /// messages deleted. Prints the addresses it listens on to stderr.
    Serve {
        /// The directory of Maildirs, one per user.
        #[arg(long, value_name = "DIR")]
        root: std::path::PathBuf,
        /// The users file.
        #[arg(long, value_name = "FILE")]
        users: std::path::PathBuf,
        /// Where to listen for POP3 (plaintext, with STLS when --tls-cert is given).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1110")]
        listen: String,
        /// Where to listen for POP3S (implicit TLS; needs --tls-cert).
        #[arg(long, value_name = "ADDR")]
        tls_listen: Option<String>,
        /// PEM certificate chain of the server.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// PEM private key of --tls-cert.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Accept passwords before TLS (for loopback tests; off by default).
        #[arg(long)]
        allow_plaintext_auth: bool,
    },
    /// Print an Argon2 hash of the password in --password-env, for serve's users file.
    HashPassword,
    /// Fetch mail into a Maildir: never loses a message, never stores one twice.
    ///
    /// By default only messages whose UIDL the Maildir has not stored before are fetched, and
    /// all stay on the server. Each is written under DIR/tmp, synced, renamed into DIR/new and
    /// the rename synced; the file name records the account and UIDL, so an interrupted run
    /// (a cut connection, a kill) leaves every message whole in new/ or still on the server,
    /// and the next run neither loses nor repeats any. (A server that gives two messages the
    /// same UIDL leaves no way to tell them apart: those are fetched on every run, with a
    /// warning on stderr.) Line ends become LF (each CRLF pair; lone CRs stay) unless --crlf.
    #[command(after_help = "\
Output: a progress bar (messages, bytes, rate, ETA) when stdout is a terminal; the last line
on stdout is always exactly `fetched N, skipped M, deleted D`.

Exit status: 0 when every selected message was stored and, with --delete, the server
confirmed QUIT; 1 otherwise, with a one-line reason on stderr (the messages stored so far
stay stored, and nothing not stored is ever deleted); 2 on a usage error.")]
    Fetch {
        /// The Maildir to deliver into (DIR/tmp, DIR/new and DIR/cur are created if missing).
        #[arg(long, value_name = "DIR")]
        maildir: std::path::PathBuf,
        /// Then delete from the server every message that DIR durably holds (stored now or
        /// by an earlier run), and only those, and QUIT.
        #[arg(long)]
        delete: bool,
        /// Fetch every message, also those stored before (needed for servers without UIDL).
        #[arg(long)]
        all: bool,
        /// Keep the line ends as on the wire (CRLF) instead of LF.
        #[arg(long)]
        crlf: bool,
    },
    /// Run the built-in demo: a POP3 server in this process on a loopback port with ~2,000
    /// generated messages (one of 20 MB), fetched into ./pop3-demo/Maildir as `fetch` does,
    /// then every stored message verified against the server's copy. Needs no other
    /// arguments; the last line on stdout is fetch's summary. Exit status 0 when every
    /// message was stored and verified, else 1.
    Demo,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let local = matches!(
        args.command,
        Cmd::Serve { .. } | Cmd::HashPassword | Cmd::Demo
    );
    if args.host.is_none() && !local {
        use clap::CommandFactory;
        Args::command()
            .error(
                clap::error::ErrorKind::MissingRequiredArgument,
                "--host is required for this command",
            )
            .exit();
    }
    if args.trace {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter("pop3::trace=debug")
            .without_time()
            .with_target(false)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            let _ = writeln!(std::io::stderr(), "pop3: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    match &args.command {
        Cmd::Serve {
            root,
            users,
            listen,
            tls_listen,
            tls_cert,
            tls_key,
            allow_plaintext_auth,
        } => {
            return serve::run(serve::Options {
                root: root.clone(),
                users: users.clone(),
                listen: listen.clone(),
                tls_listen: tls_listen.clone(),
                tls: tls_cert.clone().zip(tls_key.clone()),
                allow_plaintext_auth: *allow_plaintext_auth,
            })
        }
        Cmd::HashPassword => {
            let password = std::env::var(&args.password_env).map_err(|_| {
                format!(
                    "no password: set the environment variable {}",
                    args.password_env
                )
            })?;
            println!("{}", serve::hash_password(&password)?);
            return Ok(());
        }
        Cmd::Demo => return run_demo(),
        _ => {}
    }
    let host = args.host.clone().unwrap_or_default();
    let mode = match args.tls {
        Tls::Implicit => TlsMode::Implicit,
        Tls::Starttls => TlsMode::StartTls,
        Tls::None => TlsMode::InsecurePlaintext,
    };
    let timeout = Duration::from_secs(args.timeout);
    let mut session = Config::default();
    session.low_speed = args.speed_limit.map(|bytes_per_second| LowSpeed {
        bytes_per_second,
        time: Duration::from_secs(args.speed_time.unwrap_or(30)),
    });
    let mut connector = Connector::new(&host)
        .tls_mode(mode)
        .connect_timeout(timeout)
        .timeout(timeout)
        .session_config(session);
    if let Some(port) = args.port {
        connector = connector.port(port);
    }
    if let Some(ca) = &args.ca_file {
        connector = connector.ca_file(ca).map_err(|e| e.to_string())?;
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let config = tls::client_cert_config(args.ca_file.as_deref(), cert, key)
            .map_err(|e| e.to_string())?;
        connector = connector.tls_config(config);
    }
    let mut pop = connector
        .connect()
        .map_err(|e| explain(&e, args.tls, &args.password_env))?;
    // The user chose the transport; --tls none means they accept plaintext credentials.
    pop.allow_insecure_auth(matches!(args.tls, Tls::None));

    if let Cmd::Capa = args.command {
        let mut stdout = std::io::stdout().lock();
        pop.capa_each(|capability| writeln!(stdout, "{capability}"))
            .map_err(|e| explain(&e, args.tls, &args.password_env))?;
        return finish(pop, false);
    }

    utf8(&mut pop, args.utf8).map_err(|e| explain(&e, args.tls, &args.password_env))?;
    login(&mut pop, &args)?;
    if let Cmd::Fetch {
        maildir,
        delete,
        all,
        crlf,
    } = &args.command
    {
        let options = fetch::Options {
            maildir: maildir.clone(),
            delete: *delete,
            all: *all,
            crlf: *crlf,
        };
        // The port too: two servers on one host keep separate records.
        let server = format!("{host}:{}", port(&args));
        let account = maildir::Account::new(args.user.as_deref().unwrap_or(""), &server);
        let progress = progress_bar();
        let report = fetch::fetch(pop, &account, &options, &progress);
        progress.finish_and_clear();
        println!("{}", report.summary);
        return report.error.map_or(Ok(()), |e| Err(e.to_string()));
    }
    let (tls, password_env) = (args.tls, args.password_env.clone());
    let e = move |e: pop3_blocking::Error| explain(&e, tls, &password_env);
    let mut stdout = std::io::stdout().lock();
    let mut print = |line: String| writeln!(stdout, "{line}").map_err(|e| e.to_string());
    let deleting = matches!(args.command, Cmd::Dele { .. });
    match args.command {
        Cmd::Capa | Cmd::Serve { .. } | Cmd::HashPassword | Cmd::Demo | Cmd::Fetch { .. } => {
            unreachable!("handled before")
        }
        Cmd::Stat => {
            let stat = pop.stat().map_err(e)?;
            print(format!("{} {}", stat.count, stat.size))?;
        }
        Cmd::List { msg: Some(msg) } => {
            let entry = pop.list_one(msg).map_err(e)?;
            print(format!("{} {}", entry.msg, entry.size))?;
        }
        Cmd::List { msg: None } => {
            // Streamed: a listing of any length in constant memory.
            pop.list_each(|entry| writeln!(stdout, "{} {}", entry.msg, entry.size))
                .map_err(e)?;
        }
        Cmd::Uidl { msg: Some(msg) } => {
            let uid = pop.uidl_one(msg).map_err(e)?;
            print(format!("{msg} {uid}"))?;
        }
        Cmd::Uidl { msg: None } => {
            pop.uidl_each(|(msg, uid)| writeln!(stdout, "{msg} {uid}"))
                .map_err(e)?;
        }
        Cmd::Retr { msg } => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            pop.retr_to(msg, &mut out).map_err(e)?;
            out.flush().map_err(|e| e.to_string())?;
        }
        Cmd::Top { msg, lines } => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            pop.top_to(msg, lines, &mut out).map_err(e)?;
            out.flush().map_err(|e| e.to_string())?;
        }
        Cmd::Dele { msgs } => {
            let report = pop.dele_many(&msgs).map_err(e)?;
            if let Some((msg, status)) = report.refused.first() {
                // Nothing is committed: leave without QUIT, so the server rolls back.
                return Err(format!(
                    "the server refused DELE {msg}: {status}; nothing was deleted"
                ));
            }
        }
        Cmd::Noop => {
            pop.noop().map_err(e)?;
        }
    }
    finish(pop, deleting)
}

fn login(pop: &mut Pop3, args: &Args) -> Result<(), String> {
    let secret = |var: &str, what: &str| {
        std::env::var(var).map_err(|_| {
            format!(
                "no {what}: set the environment variable {var} (or name another with --{what}-env)"
            )
        })
    };
    let user = || {
        args.user
            .as_deref()
            .ok_or_else(|| "--user is required for this command".to_string())
    };
    let password = || secret(&args.password_env, "password");
    let token = || secret(&args.token_env, "token");
    let e = |e: pop3_blocking::Error| e.to_string();
    let m = |e: pop3_blocking::pop3_proto::sasl::SaslError| e.to_string();
    let scram = |hash, plus: bool| -> Result<Scram, String> {
        let pw = Password::new(password()?).map_err(|e| e.to_string())?;
        let mut s = Scram::new(hash, user()?, &pw, &nonce().map_err(e)?).map_err(m)?;
        if plus {
            let binding = pop.transport().channel_binding().ok_or(
                "SCRAM-…-PLUS needs a TLS 1.3 connection to bind to (use --tls implicit or starttls)",
            )?;
            s = s.channel_binding(binding);
        }
        Ok(s)
    };
    let result = match args.auth {
        Auth::Auto => pop.login_auto(user()?, &password()?),
        Auth::User => pop.login(user()?, &password()?),
        Auth::Apop => pop.apop(user()?, &password()?),
        Auth::Plain => {
            let plain = Plain::new(None, user()?, &password()?).map_err(|e| e.to_string())?;
            pop.auth(plain)
        }
        Auth::Login => {
            let pw = Password::new(password()?).map_err(|e| e.to_string())?;
            pop.auth(sasl::Login::new(user()?, &pw))
        }
        Auth::CramMd5 => {
            let pw = Password::new(password()?).map_err(|e| e.to_string())?;
            pop.auth(CramMd5::new(user()?, &pw))
        }
        Auth::ScramSha1 => pop.auth(scram(ScramHash::Sha1, false)?),
        Auth::ScramSha256 => pop.auth(scram(ScramHash::Sha256, false)?),
        Auth::ScramSha1Plus => pop.auth(scram(ScramHash::Sha1, true)?),
        Auth::ScramSha256Plus => pop.auth(scram(ScramHash::Sha256, true)?),
        Auth::Xoauth2 => pop.auth(XOAuth2::new(user()?, &token()?)),
        Auth::Oauthbearer => {
            let host = args.host.as_deref().unwrap_or_default();
            let bearer = OAuthBearer::new(user()?, &token()?).host_port(host, port(args));
            pop.auth(bearer)
        }
        Auth::External => pop.auth(External::new(None)),
        Auth::Anonymous => pop.auth(Anonymous::new(args.user.as_deref().unwrap_or(""))),
    };
    result
        .map(drop)
        .map_err(|e| explain(&e, args.tls, &args.password_env))
}

/// `--utf8`: UTF8 before login, when asked for or (auto) advertised.
fn utf8(pop: &mut Pop3, mode: Utf8) -> Result<(), pop3_blocking::Error> {
    let send = match mode {
        Utf8::Off => false,
        Utf8::On => true,
        // A server without CAPA (popa3d answers -ERR) has no UTF8 either.
        Utf8::Auto => match pop.capa() {
            Ok(capabilities) => capabilities.utf8.is_some(),
            Err(pop3_blocking::Error::Server { .. }) => false,
            Err(e) => return Err(e),
        },
    };
    if send {
        pop.utf8()?;
    }
    Ok(())
}

/// An error as one line, with the next step for the usual mistakes (wrong TLS mode or port,
/// an unknown CA, a wrong password, a maildrop in use, a login too soon).
fn explain(error: &pop3_blocking::Error, tls: Tls, password_env: &str) -> String {
    use pop3_blocking::pop3_proto::ResponseCode;
    use pop3_blocking::Error;
    use rustls::CertificateError;
    let tls_error = match error {
        Error::Tls(e) => Some(e),
        Error::Io(e) => e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    let code = match error {
        Error::Server { status, .. } => status.code(),
        _ => None,
    };
    let hint = match (tls_error, code, error) {
        (Some(rustls::Error::InvalidMessage(_)), ..) if matches!(tls, Tls::Implicit) => {
            "the server answered in plaintext, not TLS: use --tls starttls (POP3, port 110) \
             or the server's POP3S port (usually 995)"
                .to_string()
        }
        (Some(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)), ..) => {
            "the server's certificate comes from a CA this machine does not trust: pass that \
             CA's certificate with --ca-file PEM"
                .to_string()
        }
        (
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )),
            ..,
        ) => "the server's certificate is for another name: give --host the name it was \
              issued for"
            .to_string(),
        (_, Some(ResponseCode::InUse), _) => "another session has this maildrop open (another \
             mail client running?): try again when it has finished"
            .to_string(),
        (_, Some(ResponseCode::LoginDelay), _) => {
            "the server allows a login only every so often (LOGIN-DELAY): wait and try again"
                .to_string()
        }
        (_, Some(ResponseCode::Auth), _)
        | (
            _,
            None,
            Error::Server {
                command: "PASS" | "AUTH" | "APOP" | "USER",
                ..
            },
        ) => format!(
            "check --user and the password in ${password_env} (or choose the method with \
             --auth)"
        ),
        (_, _, Error::Timeout(_)) if !matches!(tls, Tls::Implicit) => {
            "no answer: if this is a POP3S port (usually 995), use --tls implicit".to_string()
        }
        (_, _, Error::Connect { .. }) => {
            "check --host and --port (POP3 is usually on 110, POP3S on 995)".to_string()
        }
        _ => return error.to_string(),
    };
    format!("{error}: {hint}")
}

/// A progress bar on stdout when it is a terminal; otherwise one that draws nothing.
fn progress_bar() -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stdout());
    if let Ok(style) = ProgressStyle::with_template(
        "{msg}, {bytes}/{total_bytes}, {bytes_per_sec}, ETA {eta} [{wide_bar:.cyan/blue}]",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// `pop3 demo`, into ./pop3-demo/Maildir.
fn run_demo() -> Result<(), String> {
    let dir = std::path::Path::new("pop3-demo").join("Maildir");
    let tty = {
        use std::io::IsTerminal;
        std::io::stdout().is_terminal()
    };
    let progress = progress_bar();
    let report = demo::run(&dir, &progress, |server| {
        if tty {
            println!("pop3 demo: the built-in POP3 server is serving {server}");
            println!("pop3 demo: fetching into {}", dir.display());
        }
    })?;
    if tty {
        println!(
            "pop3 demo: verified {} messages ({:.1} MB) in {} against the server's copies",
            report.verified,
            report.bytes as f64 / 1e6,
            dir.display()
        );
    }
    println!("{}", report.summary);
    Ok(())
}

/// The port connected to.
fn port(args: &Args) -> u16 {
    args.port.unwrap_or(match args.tls {
        Tls::Implicit => 995,
        Tls::Starttls | Tls::None => 110,
    })
}

/// Ends the session; with deletions pending, only a confirmed QUIT is success.
fn finish(pop: Pop3, deleting: bool) -> Result<(), String> {
    match pop.quit().map_err(|e| e.to_string())? {
        QuitOutcome::Committed(_) => Ok(()),
        QuitOutcome::NotCommitted(status) if deleting => {
            Err(format!("the server did not commit the deletions: {status}"))
        }
        QuitOutcome::Unknown if deleting => Err(
            "the connection ended before the server confirmed QUIT; the deletions may not have happened"
                .into(),
        ),
        _ => Ok(()),
    }
}
