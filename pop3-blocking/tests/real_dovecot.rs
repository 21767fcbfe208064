//! Against a real Dovecot on loopback (started by `scripts/test.sh`; see `dovecot/mod.rs`).

mod dovecot;

use dovecot::{dovecot, numbered_messages, tricky_messages};
use pop3_blocking::pop3_proto::sasl::Plain;
use pop3_blocking::pop3_proto::{MsgNum, QuitOutcome};
use pop3_blocking::{Connector, Error, Part, Pop3, TlsMode};
use std::time::Duration;

fn n(i: usize) -> MsgNum {
    u32::try_from(i).unwrap().try_into().unwrap()
}

fn implicit(d: &dovecot::Dovecot, ca: &str) -> Result<Pop3, Error> {
    Connector::new(d.host())
        .port(d.pop3s_port())
        .ca_file(ca)?
        .timeout(Duration::from_secs(20))
        .connect()
}

#[test]
fn plain_login_listings_and_byte_exact_bodies() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let (user, pw) = d.mailbox("t_plain", &messages);
    let mut pop = Pop3::connect_plain_insecure(d.host(), d.port()).unwrap();
    assert!(pop.greeting().unwrap().status().is_ok());
    pop.login(&user, &pw).unwrap();

    let stat = pop.stat().unwrap();
    let total: usize = messages.iter().map(Vec::len).sum();
    assert_eq!(
        (stat.count as usize, stat.size as usize),
        (messages.len(), total)
    );
    let list = pop.list().unwrap();
    let sizes: Vec<u64> = list.iter().map(|e| e.size).collect();
    let expected: Vec<u64> = messages.iter().map(|m| m.len() as u64).collect();
    assert_eq!(sizes, expected);
    assert_eq!(pop.list_one(n(2)).unwrap().size, messages[1].len() as u64);

    let uids = pop.uidl().unwrap();
    assert_eq!(uids.len(), messages.len());
    assert_eq!(pop.uidl_one(n(3)).unwrap(), uids[2].1);

    for (i, message) in messages.iter().enumerate() {
        assert_eq!(&pop.retr(n(i + 1)).unwrap(), message, "message {}", i + 1);
    }
    let top = pop.top(n(1), 0).unwrap();
    assert_eq!(top, b"Subject: dots\r\n\r\n");
    let err = pop.retr(n(99)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                command: "RETR",
                ..
            }
        ),
        "{err}"
    );
    assert!(pop.quit().unwrap().is_committed());
}

#[test]
fn starttls_verifies_and_replaces_plaintext_capabilities() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_stls", &tricky_messages()[..1]);
    let mut plain = Pop3::connect_plain_insecure(d.host(), d.port()).unwrap();
    let before = plain.capa().unwrap();
    assert!(
        before.stls && before.user && before.pipelining,
        "{before:?}"
    );
    drop(plain);

    let mut pop = Connector::new(d.host())
        .port(d.port())
        .tls_mode(TlsMode::StartTls)
        .ca_file(d.ca())
        .unwrap()
        .connect()
        .unwrap();
    assert!(pop.transport().is_tls());
    let after = pop
        .session()
        .capabilities()
        .expect("CAPA asked again after TLS")
        .clone();
    assert!(!after.stls, "STLS is not offered inside TLS: {after:?}");
    pop.login(&user, &pw).unwrap();
    assert_eq!(pop.retr(n(1)).unwrap(), tricky_messages()[0]);
    pop.quit().unwrap();
}

#[test]
fn implicit_tls_verifies_against_the_test_ca_only() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_tls", &tricky_messages());
    let mut pop = implicit(&d, d.ca()).unwrap();
    assert!(pop.transport().is_tls());
    pop.login(&user, &pw).unwrap();
    assert_eq!(pop.stat().unwrap().count, 4);
    pop.quit().unwrap();

    let err = implicit(&d, d.wrong_ca()).unwrap_err();
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{err}"
    );
}

#[test]
fn apop_and_auth_plain_over_tls() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_auth", &tricky_messages()[..2]);
    let mut pop = implicit(&d, d.ca()).unwrap();
    assert!(pop.greeting().unwrap().apop_timestamp().is_some());
    pop.apop(&user, &pw).unwrap();
    assert_eq!(pop.stat().unwrap().count, 2);
    pop.quit().unwrap();

    let mut pop = implicit(&d, d.ca()).unwrap();
    pop.auth(Plain::new(None, &user, &pw).unwrap()).unwrap();
    assert_eq!(pop.stat().unwrap().count, 2);
    pop.quit().unwrap();
}

#[test]
fn deletions_need_quit_and_rset_undoes_them() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_dele", &numbered_messages(3, 500));

    // DELE, then drop without QUIT: nothing is deleted.
    let mut pop = Pop3::connect_plain_insecure(d.host(), d.port()).unwrap();
    pop.login(&user, &pw).unwrap();
    pop.dele(n(1)).unwrap();
    drop(pop);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(d.stored(&user), 3);

    // DELE, RSET, QUIT: nothing is deleted.
    let mut pop = Pop3::connect_plain_insecure(d.host(), d.port()).unwrap();
    pop.login(&user, &pw).unwrap();
    pop.dele(n(1)).unwrap();
    pop.rset().unwrap();
    assert!(pop.quit().unwrap().is_committed());
    assert_eq!(d.stored(&user), 3);

    // DELE, QUIT: gone.
    let mut pop = Pop3::connect_plain_insecure(d.host(), d.port()).unwrap();
    pop.login(&user, &pw).unwrap();
    let report = pop.dele_many(&[n(1), n(3)]).unwrap();
    assert_eq!(report.done.len(), 2);
    assert!(matches!(pop.quit().unwrap(), QuitOutcome::Committed(_)));
    assert_eq!(d.stored(&user), 1);
}

#[test]
fn pipelined_retrieval_of_a_thousand_messages() {
    let Some(d) = dovecot() else { return };
    let messages = numbered_messages(1000, 3000);
    let (user, pw) = d.mailbox("t_pipe", &messages);
    let mut pop = implicit(&d, d.ca()).unwrap();
    pop.login(&user, &pw).unwrap();
    let all: Vec<MsgNum> = (1..=messages.len()).map(n).collect();
    let mut got: Vec<Vec<u8>> = vec![Vec::new(); messages.len()];
    let mut ended = 0;
    let report = pop
        .retr_many(&all, |msg, part| {
            match part {
                Part::Data(bytes) => got[msg.get() as usize - 1].extend_from_slice(bytes),
                Part::End => ended += 1,
            }
            Ok(())
        })
        .unwrap();
    assert!(
        pop.session().is_pipelining(),
        "Dovecot advertises PIPELINING"
    );
    assert_eq!(
        (report.done.len(), report.refused.len(), ended),
        (1000, 0, 1000)
    );
    assert!(got == messages, "every body byte-exact");
    pop.quit().unwrap();
}
