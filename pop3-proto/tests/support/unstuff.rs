// Shared by the integration tests (`tests/support/mod.rs`) and the unit tests of
// `src/codec/dot.rs`, which see the crate by different paths: so this file is pulled in with
// `include!`, and the including module brings `Step`, `Unstuffer` and `Vec` into scope.

/// Runs an `Unstuffer` over `pieces` the way the session does (each piece appended to a
/// receive buffer, every step applied to its front); returns the body and, once the
/// terminator is seen, how many bytes were consumed in all.
pub fn run(pieces: &[&[u8]], bare_lf: bool) -> (Vec<u8>, Option<usize>) {
    let mut u = Unstuffer::new(bare_lf);
    let mut buf: Vec<u8> = Vec::new();
    let mut body = Vec::new();
    let mut consumed = 0;
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            match u.step(&buf) {
                Step::Data(n) => {
                    assert!(n > 0, "empty data step");
                    body.extend(buf.drain(..n));
                    consumed += n;
                }
                Step::SkipDot => {
                    buf.remove(0);
                    consumed += 1;
                }
                Step::End(n) => return (body, Some(consumed + n)),
                Step::NeedMore => break,
            }
        }
    }
    (body, None)
}
