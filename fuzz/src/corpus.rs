//! Runs every target over its checked-in corpus (stable `cargo test`), and (on request)
//! writes the seed corpus from the core's transcript files.

use std::path::{Path, PathBuf};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn run_all(target: &str, body: fn(&[u8])) {
    let files = corpus(target);
    for (path, bytes) in &files {
        let result = std::panic::catch_unwind(|| body(bytes));
        assert!(result.is_ok(), "{target} fails on {}", path.display());
    }
    println!("{target}: {} corpus inputs", files.len());
}

#[test]
fn parsers_corpus() {
    run_all("parsers", crate::parsers);
}

#[test]
fn unstuffer_corpus() {
    run_all("unstuffer", crate::unstuffer);
}

#[test]
fn session_corpus() {
    run_all("session", crate::session);
}

#[test]
fn commands_corpus() {
    run_all("commands", crate::commands);
}

#[test]
fn server_corpus() {
    run_all("server", crate::server);
}

#[test]
fn round_trip_corpus() {
    run_all("round_trip", crate::round_trip);
}

/// The server side of a transcript: `S:` lines with CRLF, `S>` lines as written.
fn server_bytes(text: &str) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("S: ") {
            lines.push(format!("{rest}\r\n").into_bytes());
        } else if line == "S:" {
            lines.push(b"\r\n".to_vec());
        } else if let Some(rest) = line.strip_prefix("S> ") {
            lines.push(rest.replace("\\r", "\r").replace("\\n", "\n").into_bytes());
        }
    }
    lines
}

/// Op bytes (see `crate::op`) for the commands of a transcript's `C:` lines.
fn op_bytes(text: &str) -> Vec<u8> {
    text.lines()
        .filter_map(|l| l.strip_prefix("C: "))
        .filter_map(|c| {
            let word = c.split(' ').next().unwrap_or("");
            let arg = c.split(' ').nth(1).and_then(|a| a.parse::<u8>().ok());
            let n = arg.unwrap_or(1).saturating_sub(1).min(11) * 20;
            Some(match word {
                "USER" => 0,
                "PASS" => 1,
                "APOP" => 2,
                "AUTH" => 3,
                "STAT" => 4,
                "LIST" if arg.is_none() => 5,
                "LIST" => 6 + n,
                "UIDL" if arg.is_none() => 7,
                "UIDL" => 8 + n,
                "RETR" => 9 + n,
                "TOP" => 10 + n,
                "DELE" => 11 + n,
                "NOOP" => 12,
                "RSET" => 13,
                "QUIT" => 14,
                "CAPA" => 15,
                "STLS" => 16,
                "UTF8" => 17,
                "LANG" => 18,
                "RAW" | "RAW+" => 19,
                _ => return None,
            })
        })
        .take(15)
        .collect()
}

/// `POP3_WRITE_SEEDS=1 cargo test --manifest-path fuzz/Cargo.toml write_seeds -- --ignored`
#[test]
#[ignore = "writes the seed corpus; run on purpose"]
fn write_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let transcripts = root.join("../pop3-proto/tests/transcripts");
    let mut paths: Vec<_> = std::fs::read_dir(&transcripts)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    let write = |target: &str, name: String, bytes: &[u8]| {
        let dir = root.join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    for path in paths {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines = server_bytes(&text);
        for (i, line) in lines.iter().enumerate() {
            let trimmed = line.strip_suffix(b"\r\n").unwrap_or(line);
            write("parsers", format!("{stem}-{i}"), trimmed);
        }
        let all: Vec<u8> = lines.concat();
        // Bodies: everything after each "+OK" line of a multi-line reply, as the unstuffer
        // sees it (strict mode, seed 1).
        let mut body = vec![0u8, 1, 0, 0, 0];
        body.extend_from_slice(&all);
        write("unstuffer", stem.clone(), &body);
        for (flags, tag) in [(2u8, "pipelined"), (0, "plain"), (32, "invariance")] {
            let ops = op_bytes(&text);
            let mut seed = vec![flags, ops.len() as u8];
            seed.extend_from_slice(&ops);
            seed.push(7);
            seed.extend_from_slice(&all);
            write("session", format!("{stem}-{tag}"), &seed);
        }
        for (i, c) in text
            .lines()
            .filter_map(|l| l.strip_prefix("C: "))
            .enumerate()
        {
            let arg = c.split_once(' ').map_or("", |(_, a)| a);
            let mut seed = vec![(i % 8) as u8 | 0x80];
            seed.extend_from_slice(arg.as_bytes());
            write("commands", format!("{stem}-{i}"), &seed);
        }
    }
}
