//! `pop3 demo`, the README's first command: no arguments, a built-in server, every message
//! verified; run again, it stores nothing twice.

use std::process::Command;

#[test]
fn demo_fetches_and_verifies_everything_then_a_rerun_stores_nothing() {
    let cwd = std::env::temp_dir().join(format!("pop3-demo-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&cwd);
    std::fs::create_dir_all(&cwd).unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_pop3"))
            .arg("demo")
            .current_dir(&cwd)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run(), "fetched 2000, skipped 0, deleted 0\n");
    let new = cwd.join("pop3-demo/Maildir/new");
    assert_eq!(std::fs::read_dir(&new).unwrap().count(), 2000);
    assert_eq!(run(), "fetched 0, skipped 2000, deleted 0\n");
    assert_eq!(std::fs::read_dir(&new).unwrap().count(), 2000);
    std::fs::remove_dir_all(&cwd).unwrap();
}
