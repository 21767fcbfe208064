//! Every SASL mechanism against the real Dovecot of the test command (see `dovecot/mod.rs`
//! and `scripts/dovecot.sh`): each logs in, a wrong secret fails cleanly, and `login_auto`
//! picks the strongest one offered. Dovecot 2.3 has no `-PLUS` variants: those are tested
//! against scripted servers (`pop3-proto/tests/procedures.rs`, `sasl::scram` unit tests).

mod dovecot;

use dovecot::{dovecot, tricky_messages};
use pop3_blocking::pop3_proto::driver::{nonce, tls};
use pop3_blocking::pop3_proto::procedures::{Auto, Method};
use pop3_blocking::pop3_proto::sasl::{
    self, CramMd5, External, OAuthBearer, Plain, Scram, XOAuth2,
};
use pop3_blocking::pop3_proto::{Password, UserName};
use pop3_blocking::{Connector, Error, Pop3};
use std::time::Duration;

fn implicit(d: &dovecot::Dovecot) -> Pop3 {
    Connector::new("localhost")
        .port(d.pop3s_port())
        .ca_file(d.ca())
        .unwrap()
        .timeout(Duration::from_secs(60))
        .connect()
        .unwrap()
}

/// Logs in with `auth`, checks the mailbox and quits.
fn logs_in(
    d: &dovecot::Dovecot,
    what: &str,
    auth: impl FnOnce(&mut Pop3) -> pop3_blocking::Result<pop3_blocking::pop3_proto::Status>,
) {
    let mut pop = implicit(d);
    auth(&mut pop).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(pop.stat().unwrap().count, 1, "{what}");
    assert!(pop.quit().unwrap().is_committed(), "{what}");
}

#[test]
fn every_password_mechanism_logs_in_and_auto_picks_scram_sha_256() {
    let Some(d) = dovecot() else { return };
    let (user, pw) = d.mailbox("t_sasl_pw", &tricky_messages()[..1]);
    let password = Password::new(&pw).unwrap();
    for mechanism in ["PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-1", "SCRAM-SHA-256"] {
        assert!(
            d.mechanisms().contains(&mechanism),
            "{mechanism} not configured"
        );
    }
    logs_in(&d, "PLAIN", |p| {
        p.auth(Plain::new(None, &user, &pw).unwrap())
    });
    logs_in(&d, "LOGIN", |p| p.auth(sasl::Login::new(&user, &password)));
    logs_in(&d, "CRAM-MD5", |p| p.auth(CramMd5::new(&user, &password)));
    logs_in(&d, "SCRAM-SHA-1", |p| {
        p.auth(Scram::sha1(&user, &password, &nonce()?).unwrap())
    });
    logs_in(&d, "SCRAM-SHA-256", |p| {
        p.auth(Scram::sha256(&user, &password, &nonce()?).unwrap())
    });
    logs_in(&d, "auto", |p| p.login_auto(&user, &pw));

    // What auto chose: the strongest both offer (no -PLUS in Dovecot 2.3).
    let mut pop = implicit(&d);
    pop.capa().unwrap();
    let auto = Auto::new(UserName::new(&user).unwrap(), password.clone(), "n");
    let chosen = auto
        .channel_binding(pop.transport().channel_binding())
        .choose(pop.session())
        .unwrap();
    assert_eq!(chosen, Method::ScramSha256);
    drop(pop);

    // A wrong password fails cleanly, as a refusal, and the session goes on (once: Dovecot
    // makes every failure cost ~2 s).
    let mut pop = implicit(&d);
    let wrong = Password::new("not the password").unwrap();
    let err = pop
        .auth(Scram::sha256(&user, &wrong, &nonce().unwrap()).unwrap())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                command: "AUTH",
                ..
            }
        ),
        "{err}"
    );
    pop.login_auto(&user, &pw).unwrap();
    assert!(pop.quit().unwrap().is_committed());
}

#[test]
fn external_logs_in_with_a_client_certificate() {
    let Some(d) = dovecot() else { return };
    let (user, _) = d.mailbox("t_sasl_ext", &tricky_messages()[..1]);
    let (cert, key) = d.client_cert(&user);
    let config =
        tls::client_cert_config(Some(d.ca().as_ref()), cert.as_ref(), key.as_ref()).unwrap();
    let mut pop = Connector::new("localhost")
        .port(d.pop3s_port())
        .tls_config(config)
        .timeout(Duration::from_secs(60))
        .connect()
        .unwrap();
    pop.auth(External::new(None)).unwrap();
    assert_eq!(pop.stat().unwrap().count, 1);
    assert!(pop.quit().unwrap().is_committed());

    // Without a certificate there is nothing to log in with.
    let mut pop = implicit(&d);
    let err = pop.auth(External::new(None)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Server {
                command: "AUTH",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn oauth_tokens_log_in_and_a_bad_one_is_reported_with_the_servers_status() {
    let Some(d) = dovecot() else { return };
    let (user, _) = d.mailbox("t_sasl_oauth", &tricky_messages()[..1]);
    let token = d.token(&user);
    logs_in(&d, "XOAUTH2", |p| p.auth(XOAuth2::new(&user, &token)));
    logs_in(&d, "OAUTHBEARER", |p| {
        p.auth(OAuthBearer::new(&user, &token).host_port("localhost", d.pop3s_port()))
    });
    for bad in [
        Box::new(XOAuth2::new(&user, "not.a.token")) as Box<dyn sasl::Mechanism>,
        Box::new(OAuthBearer::new(&user, "not.a.token")),
    ] {
        let mut pop = implicit(&d);
        let err = pop.auth(bad).unwrap_err();
        let Error::Server {
            command: "AUTH",
            detail: Some(detail),
            ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert!(detail.as_bytes().starts_with(b"{"), "{detail}");
        assert!(err.to_string().contains("it said"), "{err}");
    }
}
