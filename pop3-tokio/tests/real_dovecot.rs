//! Against the test command's Dovecot, through the async driver (see
//! `pop3-blocking/tests/dovecot/mod.rs`).

#[path = "../../pop3-blocking/tests/dovecot/mod.rs"]
mod dovecot;

use dovecot::{dovecot, numbered_messages, tricky_messages};
use pop3_tokio::pop3_proto::sasl::Plain;
use pop3_tokio::pop3_proto::{MsgNum, QuitOutcome};
use pop3_tokio::{Connector, Error, Part, Pop3, TlsMode};
use std::time::Duration;

fn n(i: usize) -> MsgNum {
    u32::try_from(i).unwrap().try_into().unwrap()
}

async fn implicit(d: &dovecot::Dovecot, ca: &str) -> Result<Pop3, Error> {
    Connector::new(d.host())
        .port(d.pop3s_port())
        .ca_file(ca)?
        .timeout(Duration::from_secs(30))
        .connect()
        .await
}

async fn plain(d: &dovecot::Dovecot) -> Pop3 {
    Pop3::connect_plain_insecure(d.host(), d.port())
        .await
        .unwrap()
}

#[tokio::test]
async fn plain_login_listings_and_byte_exact_bodies() {
    let Some(d) = dovecot() else { return };
    let messages = tricky_messages();
    let (user, pw) = d.mailbox("a_plain", &messages);
    let mut pop = plain(&d).await;
    pop.login(&user, &pw).await.unwrap();
    let total: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let stat = pop.stat().await.unwrap();
    assert_eq!((stat.count, stat.size), (4, total));
    let sizes: Vec<u64> = pop.list().await.unwrap().iter().map(|e| e.size).collect();
    assert_eq!(
        sizes,
        messages.iter().map(|m| m.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(
        pop.list_one(n(3)).await.unwrap().size,
        messages[2].len() as u64
    );
    let uids = pop.uidl().await.unwrap();
    assert_eq!(pop.uidl_one(n(2)).await.unwrap(), uids[1].1);
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(&pop.retr(n(i + 1)).await.unwrap(), m);
    }
    assert_eq!(pop.top(n(1), 0).await.unwrap(), b"Subject: dots\r\n\r\n");
    let mut reader = pop.retr_reader(n(2)).await.unwrap();
    let mut via_reader = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut via_reader)
        .await
        .unwrap();
    assert_eq!(via_reader, messages[1]);
    assert!(pop.quit().await.unwrap().is_committed());
}

#[tokio::test]
async fn tls_both_ways_and_sasl() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("a_tls", &tricky_messages()[..2]);
    let mut pop = Connector::new(d.host())
        .port(d.port())
        .tls_mode(TlsMode::StartTls)
        .ca_file(d.ca())
        .unwrap()
        .connect()
        .await
        .unwrap();
    assert!(pop.transport().is_tls());
    assert!(!pop.session().capabilities().unwrap().stls);
    pop.login(&user, &pw).await.unwrap();
    assert_eq!(pop.stat().await.unwrap().count, 2);
    pop.quit().await.unwrap();

    let mut pop = implicit(&d, d.ca()).await.unwrap();
    pop.apop(&user, &pw).await.unwrap();
    pop.quit().await.unwrap();
    let mut pop = implicit(&d, d.ca()).await.unwrap();
    pop.auth(Plain::new(None, &user, &pw).unwrap())
        .await
        .unwrap();
    assert_eq!(pop.retr(n(1)).await.unwrap(), tricky_messages()[0]);
    pop.quit().await.unwrap();

    let err = implicit(&d, d.wrong_ca()).await.unwrap_err();
    assert!(
        matches!(err, Error::Tls(rustls::Error::InvalidCertificate(_))),
        "{err}"
    );
}

#[tokio::test]
async fn deletions_need_quit() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("a_dele", &numbered_messages(3, 400));
    let mut pop = plain(&d).await;
    pop.login(&user, &pw).await.unwrap();
    pop.dele(n(1)).await.unwrap();
    drop(pop);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(d.stored(&user), 3);

    let mut pop = plain(&d).await;
    pop.login(&user, &pw).await.unwrap();
    pop.dele(n(2)).await.unwrap();
    pop.rset().await.unwrap();
    pop.dele_many(&[n(1), n(3)]).await.unwrap();
    assert!(matches!(
        pop.quit().await.unwrap(),
        QuitOutcome::Committed(_)
    ));
    assert_eq!(d.stored(&user), 1);
}

#[tokio::test]
async fn pipelined_retrieval_of_a_thousand_messages() {
    let Some(d) = dovecot() else { return };
    let messages = numbered_messages(1000, 3000);
    let (user, pw) = d.mailbox("a_pipe", &messages);
    let mut pop = implicit(&d, d.ca()).await.unwrap();
    pop.login(&user, &pw).await.unwrap();
    let all: Vec<MsgNum> = (1..=1000).map(n).collect();
    let mut got = vec![Vec::new(); 1000];
    let report = pop
        .retr_many(&all, |msg, part| {
            if let Part::Data(bytes) = part {
                got[msg.get() as usize - 1].extend_from_slice(bytes);
            }
            Ok(())
        })
        .await
        .unwrap();
    assert!(pop.session().is_pipelining());
    assert_eq!(report.done.len(), 1000);
    assert!(got == messages, "every body byte-exact");
    pop.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sessions() {
    let Some(d) = dovecot() else { return };
    // Dovecot lets POP3 sessions of one user run side by side (pop3_lock_session = no).
    let messages = std::sync::Arc::new(numbered_messages(20, 2000));
    let (user, pw) = d.mailbox("a_many", &messages);
    let (host, port) = (d.host().to_owned(), d.port());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (host, user, pw, messages) = (host.clone(), user.clone(), pw.clone(), messages.clone());
        tasks.spawn(async move {
            let mut pop = Pop3::connect_plain_insecure(&host, port).await?;
            pop.login(&user, &pw).await?;
            let all: Vec<MsgNum> = (1..=messages.len()).map(n).collect();
            let mut got = vec![Vec::new(); messages.len()];
            pop.retr_many(&all, |msg, part| {
                if let Part::Data(bytes) = part {
                    got[msg.get() as usize - 1].extend_from_slice(bytes);
                }
                Ok(())
            })
            .await?;
            pop.quit().await?;
            Ok::<bool, Error>(got == *messages)
        });
    }
    let mut verified = 0;
    while let Some(result) = tasks.join_next().await {
        assert!(result.unwrap().unwrap(), "a session got different bytes");
        verified += 1;
    }
    assert_eq!(verified, 200);
}
