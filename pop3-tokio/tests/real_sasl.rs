//! Every SASL mechanism against the real Dovecot of the test command, through the Tokio
//! driver (the blocking driver's `real_sasl.rs` has the same checks).

#[path = "../../pop3-blocking/tests/dovecot/mod.rs"]
mod dovecot;

use dovecot::{dovecot, tricky_messages};
use pop3_tokio::pop3_proto::driver::{nonce, tls};
use pop3_tokio::pop3_proto::sasl::{
    self, CramMd5, External, Mechanism, OAuthBearer, Plain, Scram, XOAuth2,
};
use pop3_tokio::pop3_proto::Password;
use pop3_tokio::{Connector, Error, Pop3};
use std::time::Duration;

async fn implicit(d: &dovecot::Dovecot) -> Pop3 {
    Connector::new("localhost")
        .port(d.pop3s_port())
        .ca_file(d.ca())
        .unwrap()
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .unwrap()
}

/// Logs in with `mechanism` (or `login_auto` for `None`), checks the mailbox and quits.
async fn logs_in(
    d: &dovecot::Dovecot,
    user: &str,
    pw: &str,
    mechanism: Option<Box<dyn Mechanism>>,
) {
    let mut pop = implicit(d).await;
    let what = mechanism
        .as_ref()
        .map_or("auto".to_string(), |m| m.name().as_str().to_string());
    let result = match mechanism {
        Some(m) => pop.auth(m).await,
        None => pop.login_auto(user, pw).await,
    };
    result.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(pop.stat().await.unwrap().count, 1, "{what}");
    assert!(pop.quit().await.unwrap().is_committed(), "{what}");
}

#[tokio::test]
async fn every_mechanism_logs_in() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_tsasl", &tricky_messages()[..1]);
    let password = Password::new(&pw).unwrap();
    let token = d.token(&user);
    let mechanisms: Vec<Box<dyn Mechanism>> = vec![
        Box::new(Plain::new(None, &user, &pw).unwrap()),
        Box::new(sasl::Login::new(&user, &password)),
        Box::new(CramMd5::new(&user, &password)),
        Box::new(Scram::sha1(&user, &password, &nonce().unwrap()).unwrap()),
        Box::new(Scram::sha256(&user, &password, &nonce().unwrap()).unwrap()),
        Box::new(XOAuth2::new(&user, &token)),
        Box::new(OAuthBearer::new(&user, &token)),
    ];
    for mechanism in mechanisms {
        logs_in(&d, &user, &pw, Some(mechanism)).await;
    }
    logs_in(&d, &user, &pw, None).await;

    // EXTERNAL with the client certificate.
    let (cert, key) = d.client_cert(&user);
    let config =
        tls::client_cert_config(Some(d.ca().as_ref()), cert.as_ref(), key.as_ref()).unwrap();
    let mut pop = Connector::new("localhost")
        .port(d.pop3s_port())
        .tls_config(config)
        .timeout(Duration::from_secs(60))
        .connect()
        .await
        .unwrap();
    pop.auth(External::new(None)).await.unwrap();
    assert!(pop.quit().await.unwrap().is_committed());

    // A bad token: refused, with the server's JSON status.
    let mut pop = implicit(&d).await;
    let err = pop.auth(XOAuth2::new(&user, "bad")).await.unwrap_err();
    assert!(
        matches!(&err, Error::Server { command: "AUTH", detail: Some(d), .. } if d.as_bytes().starts_with(b"{")),
        "{err:?}"
    );
}
