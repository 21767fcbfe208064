//! One session streaming a large message against a scripted server, for the hosts' heap and
//! speed measurements: nothing of the message is held anywhere but in the client's receive
//! buffer, so what the allocator sees is the session's own memory.

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use pop3_proto::procedures::{Batch, BatchItem, Credentials, Login, Procedure, Step};
use pop3_proto::{Client, Config, Password, UserName};

/// Bytes of one repetition of the message on the wire: 16 lines of 64 bytes, every fifth
/// line dot-stuffed.
pub const TEMPLATE_WIRE: usize = 1024;
/// Bytes the same repetition unstuffs to.
pub const TEMPLATE_BODY: usize = TEMPLATE_WIRE - 4;

const TEMPLATE: [u8; TEMPLATE_WIRE] = template();
/// The template without its stuffing dots: what a server role is given to send.
const BODY: [u8; TEMPLATE_BODY] = unstuffed();

const fn unstuffed() -> [u8; TEMPLATE_BODY] {
    let mut body = [0u8; TEMPLATE_BODY];
    let (mut i, mut j) = (0, 0);
    while i < TEMPLATE_WIRE {
        if !(i % 64 == 0 && (i / 64) % 5 == 0) {
            body[j] = TEMPLATE[i];
            j += 1;
        }
        i += 1;
    }
    body
}

const fn template() -> [u8; TEMPLATE_WIRE] {
    let mut t = [0u8; TEMPLATE_WIRE];
    let mut i = 0;
    while i < TEMPLATE_WIRE {
        let (line, col) = (i / 64, i % 64);
        t[i] = match col {
            62 => b'\r',
            63 => b'\n',
            0 | 1 if line % 5 == 0 => b'.',
            _ => b'a' + ((i * 7) % 26) as u8,
        };
        i += 1;
    }
    t
}

/// What the scripted server still has to send.
enum Reply {
    Line(&'static [u8]),
    /// The RETR body: repetitions left, offset in the template, then `.` CRLF.
    Body {
        reps: usize,
        at: usize,
    },
}

/// The other end of the session.
trait Peer {
    /// Takes what the client sent.
    fn hear(&mut self, sent: &[u8]);
    /// Fills `buf` with what comes next, like a socket read; 0 when nothing is owed.
    fn fill(&mut self, buf: &mut [u8]) -> usize;
}

/// `pop3_proto`'s own server role, serving one message of `reps` template repetitions.
struct RoleServer {
    server: pop3_proto::server::Server,
    reps: usize,
    /// Repetitions of the body still to hand to the server role, while a RETR streams.
    body_left: Option<usize>,
}

impl RoleServer {
    fn new(reps: usize) -> Self {
        let mut config = pop3_proto::server::ServerConfig::default();
        config.allow_plaintext_auth = true;
        let mut server = pop3_proto::server::Server::new(config);
        server.greet(b"scripted entropy");
        Self {
            server,
            reps,
            body_left: None,
        }
    }
}

impl Peer for RoleServer {
    fn hear(&mut self, sent: &[u8]) {
        self.server.handle_input(sent);
    }

    fn fill(&mut self, buf: &mut [u8]) -> usize {
        use pop3_proto::server::{MessageInfo, Request};
        let mut n = 0;
        loop {
            n += self.server.poll_transmit(&mut &mut buf[n..]);
            if n == buf.len() {
                return n;
            }
            match self.server.poll_request() {
                Some(Request::Login { .. }) => {
                    let size = (self.reps * TEMPLATE_BODY) as u64;
                    self.server
                        .accept_login(alloc::vec![MessageInfo::new(size, b"uid-1")]);
                }
                Some(Request::Retr { .. }) => self.body_left = Some(self.reps),
                Some(Request::Update { .. }) => self.server.update_done(Ok(())),
                Some(_) => {}
                // Nothing to answer: give the server role the next piece of the body, if any.
                None => match self.body_left {
                    Some(0) => {
                        self.body_left = None;
                        self.server.end_body();
                    }
                    Some(left) => {
                        self.body_left = Some(left - 1);
                        self.server.body(&BODY);
                    }
                    None => return n,
                },
            }
        }
    }
}

/// A server that answers USER, PASS, CAPA and RETR 1 in order, the message being `reps`
/// repetitions of the template.
struct Server {
    replies: VecDeque<Reply>,
    reps: usize,
    /// Bytes of commands seen but not yet answered.
    line: usize,
}

impl Server {
    fn new(reps: usize) -> Self {
        let mut replies = VecDeque::new();
        replies.push_back(Reply::Line(b"+OK scripted\r\n"));
        Self {
            replies,
            reps,
            line: 0,
        }
    }
}

impl Peer for Server {
    /// Reads what the client sent and queues the replies.
    fn hear(&mut self, sent: &[u8]) {
        for line in sent.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            self.line += 1;
            let reply = if line.starts_with(b"CAPA") {
                Reply::Line(b"+OK\r\nUSER\r\nPIPELINING\r\n.\r\n")
            } else if line.starts_with(b"RETR") {
                self.replies
                    .push_back(Reply::Line(b"+OK message follows\r\n"));
                Reply::Body {
                    reps: self.reps,
                    at: 0,
                }
            } else {
                Reply::Line(b"+OK\r\n")
            };
            self.replies.push_back(reply);
        }
    }

    /// Fills `buf` with what comes next, like a socket read; 0 when nothing is owed.
    fn fill(&mut self, buf: &mut [u8]) -> usize {
        let mut n = 0;
        while n < buf.len() {
            let Some(reply) = self.replies.front_mut() else {
                break;
            };
            match reply {
                Reply::Line(bytes) => {
                    let k = bytes.len().min(buf.len() - n);
                    buf[n..n + k].copy_from_slice(&bytes[..k]);
                    *bytes = &bytes[k..];
                    n += k;
                    if bytes.is_empty() {
                        self.replies.pop_front();
                    }
                }
                Reply::Body { reps: 0, .. } => {
                    self.replies.pop_front();
                    self.replies.push_front(Reply::Line(b".\r\n"));
                }
                Reply::Body { reps, at } => {
                    let k = (TEMPLATE_WIRE - *at).min(buf.len() - n);
                    buf[n..n + k].copy_from_slice(&TEMPLATE[*at..*at + k]);
                    *at += k;
                    n += k;
                    if *at == TEMPLATE_WIRE {
                        *at = 0;
                        *reps -= 1;
                    }
                }
            }
        }
        n
    }
}

/// Logs in with USER/PASS and fetches message 1 — `reps` repetitions of a 1 KiB template,
/// [`TEMPLATE_BODY`] bytes each once unstuffed — with the login and batch procedures,
/// reading through `read_space` at most `read_size` bytes at a time, from a scripted server
/// (a queue of canned replies). `after_read` runs after every read (a host samples its
/// allocator there). Returns the body bytes received, checked against the template.
///
/// ```
/// let body = pop3_transcript::stream::fetch(2048, 100, || {}).unwrap();
/// assert_eq!(body, 100 * pop3_transcript::stream::TEMPLATE_BODY as u64);
/// ```
pub fn fetch(read_size: usize, reps: usize, after_read: impl FnMut()) -> Result<u64, String> {
    run(&mut Server::new(reps), read_size, reps, after_read)
}

/// As [`fetch`], with `pop3_proto`'s server role at the other end (both roles in memory):
/// the server dot-stuffs the message and answers from the listing it was given at login.
///
/// ```
/// let body = pop3_transcript::stream::fetch_from_server_role(2048, 100, || {}).unwrap();
/// assert_eq!(body, 100 * pop3_transcript::stream::TEMPLATE_BODY as u64);
/// ```
pub fn fetch_from_server_role(
    read_size: usize,
    reps: usize,
    after_read: impl FnMut(),
) -> Result<u64, String> {
    run(&mut RoleServer::new(reps), read_size, reps, after_read)
}

/// As [`fetch`], without the procedures layer: the commands go through [`Client::send`] and
/// the replies come back as events (USER, PASS, RETR 1, QUIT), the body borrowed through
/// [`Client::drain_body`]: the smallest program that streams a message with the core.
///
/// ```
/// let body = pop3_transcript::stream::fetch_with_commands(2048, 100, || {}).unwrap();
/// assert_eq!(body, 100 * pop3_transcript::stream::TEMPLATE_BODY as u64);
/// ```
pub fn fetch_with_commands(
    read_size: usize,
    reps: usize,
    mut after_read: impl FnMut(),
) -> Result<u64, String> {
    use pop3_proto::{Command, Event};
    let (mut client, user, pass) = setup(read_size)?;
    let mut server = Server::new(reps);
    let mut wire = alloc::vec::Vec::with_capacity(64);
    let msg = 1.try_into().map_err(|_| String::from("message 1"))?;
    let mut commands = [
        Some(Command::User(user)),
        Some(Command::Pass(pass)),
        Some(Command::Retr(msg)),
        Some(Command::Quit),
    ]
    .into_iter();
    let (mut body, mut at) = (0u64, 0usize);
    loop {
        client.drain_body(|_, run| {
            if !body_matches(run, &mut at) {
                return Err(format!(
                    "the body differs from the message after {body} bytes"
                ));
            }
            body += run.len() as u64;
            Ok(())
        })?;
        match client.poll_event().map_err(|e| format!("{e}"))? {
            // The greeting or a command's last reply: the next command (one at a time).
            Some(Event::Greeting(_) | Event::Status { .. } | Event::MultiEnd { .. }) => {
                if let Some(Some(command)) = commands.next() {
                    client.send(command).map_err(|e| format!("{e}"))?;
                }
            }
            Some(Event::BodyChunk { data, .. }) => {
                if !body_matches(&data, &mut at) {
                    return Err(format!(
                        "the body differs from the message after {body} bytes"
                    ));
                }
                body += data.len() as u64;
            }
            Some(Event::Closed { .. }) => break,
            Some(_) => {}
            None => match io(&mut client, &mut server, &mut wire, read_size)? {
                Io::Sent => {}
                Io::Read => after_read(),
                Io::Nothing => client.handle_eof(),
            },
        }
    }
    if body != (reps * TEMPLATE_BODY) as u64 {
        return Err(format!("{body} body bytes, not {}", reps * TEMPLATE_BODY));
    }
    Ok(body)
}

/// Whether `data` is the unstuffed template from offset `at` on (advanced past it).
fn body_matches(mut data: &[u8], at: &mut usize) -> bool {
    while !data.is_empty() {
        let n = data.len().min(TEMPLATE_BODY - *at);
        if data[..n] != BODY[*at..*at + n] {
            return false;
        }
        data = &data[n..];
        *at = (*at + n) % TEMPLATE_BODY;
    }
    true
}

/// A client for one run, allowed to log in over the in-process connection (there is no path
/// to expose the password on), and its credentials.
fn setup(read_size: usize) -> Result<(Client, UserName, Password), String> {
    let mut config = Config::default();
    config.read_size = read_size;
    config.allow_plaintext_auth = true;
    let user = UserName::new("user").map_err(|e| format!("{e}"))?;
    let pass = Password::new("secret").map_err(|e| format!("{e}"))?;
    Ok((Client::new(config), user, pass))
}

/// What one I/O step did.
enum Io {
    /// The client's commands went to the server.
    Sent,
    /// The client read what the server had (at most `read_size` bytes).
    Read,
    /// Nothing to send and nothing owed.
    Nothing,
}

/// One I/O step, as a driver's: write what the client has, else read once.
fn io(
    client: &mut Client,
    server: &mut dyn Peer,
    wire: &mut alloc::vec::Vec<u8>,
    read_size: usize,
) -> Result<Io, String> {
    wire.clear();
    if client.poll_transmit(wire) > 0 {
        server.hear(wire);
        return Ok(Io::Sent);
    }
    let space = client.read_space();
    let limit = space.len().min(read_size);
    let n = server.fill(&mut space[..limit]);
    if n == 0 {
        return Ok(Io::Nothing);
    }
    client.commit_read(n).map_err(|e| format!("{e}"))?;
    Ok(Io::Read)
}

fn run(
    server: &mut dyn Peer,
    read_size: usize,
    reps: usize,
    mut after_read: impl FnMut(),
) -> Result<u64, String> {
    let (mut client, user, pass) = setup(read_size)?;
    let mut wire = alloc::vec::Vec::with_capacity(64);
    let mut io = |client: &mut Client| match io(client, server, &mut wire, read_size)? {
        Io::Sent => Ok(()),
        Io::Read => {
            after_read();
            Ok(())
        }
        Io::Nothing => Err(String::from(
            "the client waits for input the server does not owe",
        )),
    };
    let mut login = Login::new(Credentials::UserPass { user, pass });
    loop {
        match login.step(&mut client).map_err(|e| format!("{e}"))? {
            Step::Io => io(&mut client)?,
            Step::Done(Ok(_)) => break,
            Step::Done(Err(refused)) => return Err(format!("{refused}")),
            Step::Item(never) => match never {},
            Step::StartTls(_) => return Err(String::from("no TLS here")),
        }
    }
    let mut batch = Batch::retr([1.try_into().map_err(|_| String::from("message 1"))?]);
    // Every byte is checked against the unstuffed template, a slice comparison at a time.
    let (mut body, mut at) = (0u64, 0usize);
    loop {
        match batch.step(&mut client).map_err(|e| format!("{e}"))? {
            Step::Io => io(&mut client)?,
            Step::Item(BatchItem::Data { data, .. }) => {
                if !body_matches(&data, &mut at) {
                    return Err(format!(
                        "the body differs from the message after {body} bytes"
                    ));
                }
                body += data.len() as u64;
            }
            Step::Item(_) => {}
            Step::Done(report) if report.refused.is_empty() => break,
            Step::Done(report) => return Err(format!("refused: {:?}", report.refused)),
            Step::StartTls(_) => return Err(String::from("no TLS here")),
        }
    }
    if body != (reps * TEMPLATE_BODY) as u64 {
        return Err(format!("{body} body bytes, not {}", reps * TEMPLATE_BODY));
    }
    Ok(body)
}
