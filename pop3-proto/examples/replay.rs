//! Drives a `Client` through a whole POP3 session against a recorded server transcript and
//! prints the protocol trace and every event.
//!
//! The client acts like a small mail fetcher: it logs in (APOP when the greeting offers a
//! timestamp, else USER/PASS), asks STAT and LIST, retrieves and deletes every message, and
//! quits. The "server" replays the `S:` lines of the transcript, checking that each command
//! matches the recorded `C:` line.
//!
//! ```text
//! cargo run -p pop3-proto --example replay                 # RFC 1939's example session
//! cargo run -p pop3-proto --example replay -- FILE [SECRET] # another transcript
//! ```

use pop3_proto::{Client, Command, Config, Event, MsgNum, Password, QuitOutcome, UserName};
use std::collections::VecDeque;
use std::process::ExitCode;

const DEFAULT: &str = include_str!("../tests/transcripts/rfc1939_section10_session.txt");

/// The recorded server: the greeting, then one reply per expected command.
struct Recorded {
    greeting: Vec<u8>,
    exchanges: VecDeque<(String, Vec<u8>)>,
}

fn load(text: &str) -> Recorded {
    let mut greeting = Vec::new();
    let mut exchanges: VecDeque<(String, Vec<u8>)> = VecDeque::new();
    for line in text.lines() {
        let (server, rest) = match line.split_at_checked(3) {
            Some(("S: ", rest)) => (true, rest),
            Some(("C: ", rest)) => (false, rest),
            _ if line == "S:" => (true, ""),
            _ => continue,
        };
        if server {
            let target = match exchanges.back_mut() {
                Some((_, reply)) => reply,
                None => &mut greeting,
            };
            target.extend_from_slice(rest.as_bytes());
            target.extend_from_slice(b"\r\n");
        } else {
            exchanges.push_back((rest.to_owned(), Vec::new()));
        }
    }
    Recorded {
        greeting,
        exchanges,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (text, secret) = match args.as_slice() {
        [] => (DEFAULT.to_owned(), "tanstaaf".to_owned()),
        [path, rest @ ..] => match std::fs::read_to_string(path) {
            Ok(text) => (text, rest.first().cloned().unwrap_or_default()),
            Err(e) => {
                eprintln!("replay: cannot read {path}: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match run(load(&text), &secret) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("replay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What each command in flight was for, oldest first (replies come back in this order).
#[derive(Debug, Clone, Copy)]
enum Asked {
    User,
    Login,
    Stat,
    List,
    Retr(MsgNum),
    Dele,
    Quit,
}

fn run(mut server: Recorded, secret: &str) -> Result<(), Box<dyn std::error::Error>> {
    let mut client = Client::new(Config::default());
    let mut inbound: VecDeque<u8> = server.greeting.drain(..).collect();
    let mut out = Vec::new();
    let mut asked: VecDeque<Asked> = VecDeque::new();
    let mut messages: VecDeque<MsgNum> = VecDeque::new();
    let mut body_bytes = 0usize;
    let secret = Password::new(secret)?;
    let user = UserName::new("mrose")?;

    loop {
        // 1. Write what the session wants to send; the recorded server answers it.
        out.clear();
        client.poll_transmit(&mut out);
        for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line).trim_end().to_owned();
            let shown = if line.starts_with("PASS ") {
                "PASS ********"
            } else {
                &line
            };
            println!("C: {shown}");
            let (expected, reply) = server
                .exchanges
                .pop_front()
                .ok_or("the client sent more than the transcript holds")?;
            if expected != line {
                return Err(
                    format!("transcript expects {expected:?}, client sent {line:?}").into(),
                );
            }
            inbound.extend(reply);
        }

        // 2. Feed what "arrived" in small reads, as a network would; zero bytes is EOF.
        let read: Vec<u8> = inbound.drain(..inbound.len().min(40)).collect();
        if read.is_empty() {
            client.handle_eof();
        } else {
            client.handle_input(&read);
        }

        // 3. Act on every event; decide the next command when one completes.
        while let Some(event) = client.poll_event()? {
            if let Event::BodyChunk { data, .. } = &event {
                body_bytes += data.len();
                println!(
                    "   BodyChunk ({} bytes) {:?}",
                    data.len(),
                    String::from_utf8_lossy(data)
                );
                continue;
            }
            println!("   {event:?}");
            if let Event::Greeting(greeting) = &event {
                if greeting.apop_timestamp().is_some() {
                    client.apop(user.clone(), &secret)?;
                    asked.push_back(Asked::Login);
                } else {
                    client.send(Command::User(user.clone()))?;
                    asked.push_back(Asked::User);
                }
                continue;
            }
            if let Event::ListEntry { entry, .. } = &event {
                messages.push_back(entry.msg);
            }
            if !event.is_final() {
                continue;
            }
            let done = asked.pop_front().ok_or("a reply to nothing")?;
            if let Event::Status { status, .. } = &event {
                if !status.is_ok() {
                    return Err(format!("{done:?} was refused: {status}").into());
                }
            }
            let next = match (done, event) {
                (Asked::User, _) => {
                    client.send(Command::Pass(secret.clone()))?;
                    Asked::Login
                }
                (Asked::Login, _) => {
                    client.send(Command::Stat)?;
                    Asked::Stat
                }
                (Asked::Stat, _) => {
                    client.send(Command::List(None))?;
                    Asked::List
                }
                (Asked::Retr(msg), _) => {
                    client.send(Command::Dele(msg))?;
                    Asked::Dele
                }
                (Asked::List | Asked::Dele, _) => match messages.pop_front() {
                    Some(msg) => {
                        client.send(Command::Retr(msg))?;
                        Asked::Retr(msg)
                    }
                    None => {
                        client.send(Command::Quit)?;
                        Asked::Quit
                    }
                },
                (Asked::Quit, Event::Closed { outcome, .. }) => {
                    match outcome {
                        QuitOutcome::Committed(_) => println!("session over; deletions committed"),
                        QuitOutcome::NotCommitted(s) => println!("deletions NOT committed: {s}"),
                        QuitOutcome::Unknown => {
                            println!("QUIT's reply never came: outcome unknown")
                        }
                    }
                    println!("{body_bytes} body bytes received");
                    return Ok(());
                }
                (Asked::Quit, other) => return Err(format!("odd reply to QUIT: {other:?}").into()),
            };
            asked.push_back(next);
        }
    }
}
