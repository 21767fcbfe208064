//! The interop matrix with `pop3-tokio` (see `pop3-blocking/tests/interop.rs` for the full
//! matrix with the blocking driver): per server, USER/PASS and every SASL mechanism it offers
//! that we speak, each TLS mode it has, the filled mailbox through a batch (pipelined where
//! advertised) against the bytes filled, and DELE committed by QUIT.

#[path = "../../pop3-blocking/tests/servers/mod.rs"]
mod interop;

use interop::{check_retrieved, messages, servers, Server, EIGHT_BIT_HEADER};
use pop3_tokio::pop3_proto::sasl::{CramMd5, Login, Plain};
use pop3_tokio::pop3_proto::{MsgNum, Password, QuitOutcome};
use pop3_tokio::{Connector, Part, Pop3, TlsMode};
use std::time::Duration;

fn n(i: usize) -> MsgNum {
    MsgNum::new(i as u32).unwrap()
}

async fn connect(s: &Server, mode: TlsMode) -> Pop3 {
    let port = match mode {
        TlsMode::Implicit => s.pop3s_port().expect("a POP3S port"),
        _ => s.port(),
    };
    let mut pop = Connector::new(s.host())
        .port(port)
        .tls_mode(mode)
        .ca_file(s.ca())
        .unwrap()
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{}: connect {mode:?}: {e}", s.name()));
    pop.allow_insecure_auth(matches!(mode, TlsMode::InsecurePlaintext));
    // Courier hands out messages with 8-bit headers as they are only after UTF8.
    if let Ok(capabilities) = pop.capa().await {
        if capabilities.utf8.is_some() {
            pop.utf8().await.unwrap();
        }
    }
    pop
}

/// Every TLS mode the server has, plaintext when it has none.
fn modes(s: &Server) -> Vec<TlsMode> {
    let mut modes = Vec::new();
    if s.stls() {
        modes.push(TlsMode::StartTls);
    }
    if s.pop3s_port().is_some() {
        modes.push(TlsMode::Implicit);
    }
    if modes.is_empty() {
        modes.push(TlsMode::InsecurePlaintext);
    }
    modes
}

#[tokio::test]
async fn logins_in_every_mode_and_batches_match_the_filled_mailbox() {
    let filled = messages();
    for s in servers() {
        let name = s.name();
        let (user, password) = s.mailbox("ix_tokio", &filled);
        let pw = Password::new(password.clone()).unwrap();
        for mode in modes(&s) {
            let mut pop = connect(&s, mode).await;
            pop.login(&user, &password).await.unwrap();
            assert_eq!(pop.stat().await.unwrap().count as usize, filled.len());
            pop.quit().await.unwrap();
            for mechanism in s.mechanisms() {
                let mut pop = connect(&s, mode).await;
                let result = match mechanism {
                    "PLAIN" => pop.auth(Plain::new(None, &user, &password).unwrap()).await,
                    "LOGIN" => pop.auth(Login::new(&user, &pw)).await,
                    "CRAM-MD5" => pop.auth(CramMd5::new(&user, &pw)).await,
                    _ => continue,
                };
                result.unwrap_or_else(|e| panic!("{name} {mode:?}: AUTH {mechanism}: {e}"));
                pop.quit().await.unwrap();
            }
        }

        let mut pop = connect(&s, modes(&s)[0]).await;
        pop.login(&user, &password).await.unwrap();
        let all: Vec<MsgNum> = (1..=filled.len()).map(n).collect();
        let mut bodies = vec![Vec::new(); filled.len()];
        let report = pop
            .retr_many(&all, |msg, part| {
                if let Part::Data(data) = part {
                    bodies[msg.get() as usize - 1].extend_from_slice(data);
                }
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(report.done.len(), filled.len(), "{name}");
        for (i, (want, got)) in filled.iter().zip(&bodies).enumerate() {
            let context = format!("{name}: message {}", i + 1);
            if i == EIGHT_BIT_HEADER && name == "cyrus" {
                assert_eq!(interop::body(got), interop::body(want), "{context}");
            } else {
                check_retrieved(name, want, got, &context);
            }
        }
        pop.dele(n(1)).await.unwrap();
        assert!(matches!(
            pop.quit().await.unwrap(),
            QuitOutcome::Committed(_)
        ));
        let mut pop = connect(&s, modes(&s)[0]).await;
        pop.login(&user, &password).await.unwrap();
        assert_eq!(pop.stat().await.unwrap().count as usize, filled.len() - 1);
        pop.quit().await.unwrap();
    }
}
