//! Getting a [`Client`] to the start of a RETR reply.

use pop3_proto::{Client, Command, Event, Handle, Password, SessionState, UserName};

/// Hands `bytes` to the client through the zero-copy read path a driver would use.
pub fn feed_zero_copy(client: &mut Client, bytes: &[u8]) {
    client.read_space()[..bytes.len()].copy_from_slice(bytes);
    client.commit_read(bytes.len()).unwrap();
}

/// Greets the client and logs in as `mrose` (the server answers PASS with `pass_reply`),
/// checking the event of every reply and the TRANSACTION state, then sends `RETR 1`. `feed`
/// hands the server's bytes to the client; the commands are written to `wire`.
pub fn log_in_and_retr(
    client: &mut Client,
    wire: &mut Vec<u8>,
    feed: &mut dyn FnMut(&mut Client, &[u8]),
    pass_reply: &[u8],
) -> Handle {
    feed(client, b"+OK POP3 server ready\r\n");
    assert!(matches!(client.poll_event(), Ok(Some(Event::Greeting(_)))));
    for (command, reply) in [
        (
            Command::User(UserName::new("mrose").unwrap()),
            &b"+OK\r\n"[..],
        ),
        (Command::Pass(Password::new("secret").unwrap()), pass_reply),
    ] {
        client.send(command).unwrap();
        client.poll_transmit(wire);
        feed(client, reply);
        assert!(matches!(
            client.poll_event(),
            Ok(Some(Event::Status { .. }))
        ));
    }
    assert_eq!(client.state(), SessionState::Transaction);
    let retr = client.send(Command::Retr(1.try_into().unwrap())).unwrap();
    client.poll_transmit(wire);
    retr
}
