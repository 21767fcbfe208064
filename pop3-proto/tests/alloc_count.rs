//! Streaming a body allocates no buffer and zeroes nothing once the receive buffer has warmed
//! up.
//!
//! A counting global allocator wraps the system allocator. After a warm-up of a few reads,
//! 64 MiB of RETR body go through the zero-copy read path (`read_space` / `commit_read`) with
//! every `BodyChunk` dropped as soon as it is seen; the test asserts that the test thread
//! meanwhile made at most one allocation per read, each the size of a reference-count header
//! (the owner of the `Bytes` the read's chunks are sliced from), none of them data-sized, while
//! tens of thousands of chunks were produced; and that every read was handed space still
//! holding earlier bytes (the same block, not zeroed again).
//!
//! This file is its own test binary, so its `#[global_allocator]` affects nothing else.

mod support;

use pop3_proto::{Client, Config, Event};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::body::{Source, Template, STUFFED};
use support::session::{feed_zero_copy, log_in_and_retr};

/// Allocations (and reallocations) made by a thread while its `COUNTING` flag was set.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Bytes requested by those allocations.
static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the test thread's steady-state phase is counted, not the harness's other threads.
    /// A `const` thread-local of a `Cell<bool>` needs no lazy initialisation and no destructor,
    /// so reading it from inside the allocator cannot allocate or recurse.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note(bytes: usize) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        ALLOCATED_BYTES.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The most one read may allocate: the header `Bytes::from_owner` puts around the block's
/// `Arc` (a reference count and the `Arc` pointer; 24 bytes on 64-bit targets).
const MAX_HEADER: usize = 64;

struct Counting;

// `unsafe` is unavoidable here: `GlobalAlloc` is an unsafe trait, and a counting
// `#[global_allocator]` is the only way to observe every allocation the session makes. Each
// method only counts and forwards its arguments unchanged to `System`, so the caller's
// obligations (valid layout, pointer from this allocator) pass straight through.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const READ: usize = 64 * 1024;
const WARM_UP_READS: usize = 4;
const STEADY_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default, Clone, Copy)]
struct Counts {
    chunks: u64,
    bytes: u64,
    ends: u64,
}

/// Takes every event ready now, dropping each chunk at once. Allocates nothing itself.
fn drain(client: &mut Client, counts: &mut Counts) {
    while let Some(event) = client.poll_event().expect("the stream is valid") {
        match event {
            Event::BodyChunk { data, .. } => {
                counts.chunks += 1;
                counts.bytes += data.len() as u64;
            }
            Event::MultiStart { .. } => {}
            Event::MultiEnd { .. } => counts.ends += 1,
            other => panic!("unexpected event {other:?}"),
        }
    }
}

#[test]
fn steady_state_body_streaming_reuses_one_block() {
    let mut config = Config::default();
    config.read_size = READ;
    let wire = Template::plain().wire;
    let reps = (READ * WARM_UP_READS + STEADY_BYTES).div_ceil(wire.len()) + 1;
    let mut source = Source::new(&wire, reps);

    // Log in and send RETR, all through the zero-copy read path a driver would use.
    let mut client = Client::new(config);
    let mut out = Vec::new();
    log_in_and_retr(&mut client, &mut out, &mut feed_zero_copy, b"+OK\r\n");

    let mut counts = Counts::default();
    for _ in 0..WARM_UP_READS {
        let n = source.fill(&mut client.read_space()[..READ]);
        client.commit_read(n).unwrap();
        drain(&mut client, &mut counts);
    }
    let warm = counts;
    assert!(warm.chunks > 0 && warm.ends == 0);

    // Steady state: from here on the test thread must not allocate a buffer.
    let (mut steady_reads, mut reads_ending_in_cr, mut max_capacity) = (0usize, 0usize, 0);
    let mut zeroed_spaces = 0usize;
    ALLOCATIONS.store(0, Ordering::SeqCst);
    ALLOCATED_BYTES.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    while steady_reads * READ < STEADY_BYTES {
        let space = client.read_space();
        zeroed_spaces += usize::from(space[..READ].iter().all(|&b| b == 0));
        let n = source.fill(&mut space[..READ]);
        reads_ending_in_cr += usize::from(space[n - 1] == b'\r');
        client.commit_read(n).unwrap();
        max_capacity = max_capacity.max(client.receive_buffer_capacity());
        drain(&mut client, &mut counts);
        steady_reads += 1;
    }
    COUNTING.with(|c| c.set(false));
    let allocations = ALLOCATIONS.load(Ordering::SeqCst);
    let allocated = ALLOCATED_BYTES.load(Ordering::SeqCst);

    let chunks = counts.chunks - warm.chunks;
    let bytes = counts.bytes - warm.bytes;
    eprintln!(
        "steady state: {steady_reads} reads ({reads_ending_in_cr} ending in CR), {chunks} chunks, \
         {bytes} bytes, {allocations} allocations ({allocated} bytes), \
         max receive buffer capacity {max_capacity}"
    );
    assert!(
        reads_ending_in_cr > 0,
        "the held-back-CR path was not exercised"
    );
    // Every stuffed dot cuts a chunk, and so does the end of every read.
    let template_reps_seen = STEADY_BYTES / wire.len();
    assert!(
        chunks >= (template_reps_seen * STUFFED) as u64,
        "{chunks} chunks"
    );
    assert!(chunks >= steady_reads as u64, "{chunks} chunks");
    assert!(bytes >= (STEADY_BYTES - STEADY_BYTES / 30) as u64);
    assert!(
        allocations <= steady_reads && allocated <= steady_reads * MAX_HEADER,
        "{allocations} allocations ({allocated} bytes) in {steady_reads} reads while streaming \
         {bytes} body bytes in {chunks} chunks"
    );
    assert_eq!(zeroed_spaces, 0, "reads given freshly zeroed space");

    // The rest of the body and the terminator: exactly one MultiEnd.
    loop {
        let space = client.read_space();
        let n = source.fill(&mut space[..READ]);
        if n == 0 {
            break;
        }
        client.commit_read(n).unwrap();
        drain(&mut client, &mut counts);
    }
    assert_eq!(counts.ends, 1);
    assert_eq!(
        counts.bytes,
        (reps * (wire.len() - STUFFED)) as u64,
        "unstuffed byte count"
    );
}
