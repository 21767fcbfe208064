//! Our Tokio client against our Tokio server over loopback TCP (plain and implicit TLS):
//! byte-exact bodies, deletions only through QUIT, the maildrop lock, and many sessions at
//! once.

#[path = "../../pop3-blocking/tests/support/mod.rs"]
mod support;

use pop3_tokio::pop3_proto::server::ServerConfig;
use pop3_tokio::pop3_proto::{MsgNum, ResponseCode};
use pop3_tokio::server::{serve, MemoryStore};
use pop3_tokio::{Connector, Error, Part, Pop3, TlsMode};
use std::sync::Arc;
use std::time::Duration;
use support::Pki;

fn message(n: usize) -> Vec<u8> {
    let mut m = format!("Subject: {n}\r\nX-Filler: yes\r\n\r\n").into_bytes();
    for i in 0..(n * 7 % 40) {
        match i % 4 {
            0 => m.extend_from_slice(b".\r\n"),
            1 => m.extend_from_slice(b"..two dots\r\n"),
            2 => m.extend_from_slice(&[0xc3, 0xa9, 0xff, 0x00, b'\r', b'\n']),
            _ => m.extend_from_slice(format!("line {i}\r\n").as_bytes()),
        }
    }
    m
}

/// Starts a server on loopback (implicit TLS if `tls`) and returns its port.
async fn start(store: Arc<MemoryStore>, tls: bool) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Pki::shared().server_config());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (store, acceptor) = (store.clone(), acceptor.clone());
            tokio::spawn(async move {
                let mut config = ServerConfig::default();
                config.allow_plaintext_auth = !tls;
                config.implicit_tls = tls;
                if tls {
                    let stream = acceptor.accept(tcp).await.expect("handshake");
                    let _ = serve(stream, config, &*store, [1; 16]).await;
                } else {
                    let _ = serve(tcp, config, &*store, [1; 16]).await;
                }
            });
        }
    });
    port
}

async fn connect(port: u16, tls: bool) -> Pop3 {
    let connector = Connector::new("127.0.0.1")
        .port(port)
        .timeout(Duration::from_secs(10));
    let connector = if tls {
        connector.tls_config(Pki::shared().client_config())
    } else {
        connector
            .tls_mode(TlsMode::InsecurePlaintext)
            .allow_insecure_auth(true)
    };
    connector.connect().await.expect("connect")
}

fn n(i: usize) -> MsgNum {
    MsgNum::new(i as u32).unwrap()
}

#[tokio::test]
async fn our_client_fetches_byte_exact_and_deletes_only_through_quit() {
    for tls in [false, true] {
        let store = Arc::new(MemoryStore::new());
        let messages: Vec<Vec<u8>> = (1..=30).map(message).collect();
        store.add_user("alice", "secret", messages.clone());
        let port = start(store.clone(), tls).await;

        let mut pop = connect(port, tls).await;
        pop.login_auto("alice", "secret").await.expect("login");
        let stat = pop.stat().await.unwrap();
        assert_eq!(stat.count, 30);
        let all: Vec<MsgNum> = (1..=30).map(n).collect();
        let mut got = vec![Vec::new(); 30];
        let report = pop
            .retr_many(&all, |m, part| {
                if let Part::Data(d) = part {
                    got[m.get() as usize - 1].extend_from_slice(d);
                }
                Ok(())
            })
            .await
            .unwrap();
        assert!(pop.session().is_pipelining());
        assert_eq!(report.done.len(), 30);
        assert_eq!(got, messages, "tls {tls}");
        assert_eq!(
            pop.top(n(2), 0).await.unwrap(),
            b"Subject: 2\r\nX-Filler: yes\r\n\r\n"
        );

        // Dropped without QUIT: nothing removed.
        pop.dele_many(&all[..10]).await.unwrap();
        drop(pop);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(store.messages("alice").len(), 30);

        // QUIT commits; RSET undoes.
        let mut pop = connect(port, tls).await;
        pop.login("alice", "secret").await.unwrap();
        pop.dele(n(1)).await.unwrap();
        pop.dele(n(2)).await.unwrap();
        pop.rset().await.unwrap();
        pop.dele(n(3)).await.unwrap();
        assert!(pop.quit().await.unwrap().is_committed());
        let left = store.messages("alice");
        assert_eq!(left.len(), 29);
        assert!(!left.contains(&messages[2]));
    }
}

#[tokio::test]
async fn a_maildrop_open_elsewhere_is_in_use_and_wrong_passwords_fail() {
    let store = Arc::new(MemoryStore::new());
    store.add_user("bob", "pw", vec![message(1)]);
    let port = start(store.clone(), false).await;
    let mut first = connect(port, false).await;
    first.login("bob", "pw").await.unwrap();
    let mut second = connect(port, false).await;
    let err = second.login("bob", "pw").await.unwrap_err();
    assert_eq!(
        err.server_status().and_then(|s| s.code()),
        Some(&ResponseCode::InUse),
        "{err}"
    );
    let err = second.login("bob", "wrong").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                command: "PASS",
                ..
            }
        ),
        "{err}"
    );
    first.quit().await.unwrap();
    second
        .login("bob", "pw")
        .await
        .expect("the lock is released by QUIT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sessions_at_once() {
    const SESSIONS: usize = 500;
    let store = Arc::new(MemoryStore::new());
    for u in 0..SESSIONS {
        store.add_user(&format!("u{u}"), "pw", vec![message(u % 40 + 1)]);
    }
    let port = start(store.clone(), false).await;
    // Connect in waves (the other tests share the two cores), then hold every session open
    // at once before any of them fetches.
    let connecting = Arc::new(tokio::sync::Semaphore::new(64));
    let all_in = Arc::new(tokio::sync::Barrier::new(SESSIONS));
    let mut tasks = Vec::new();
    for u in 0..SESSIONS {
        let (connecting, all_in) = (connecting.clone(), all_in.clone());
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire().await.unwrap();
            let mut pop = connect(port, false).await;
            pop.login(&format!("u{u}"), "pw").await.unwrap();
            drop(permit);
            all_in.wait().await;
            let body = pop.retr(n(1)).await.unwrap();
            assert_eq!(body, message(u % 40 + 1));
            pop.quit().await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}
