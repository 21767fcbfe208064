//! What the Cortex-M4 programs share: a heap that remembers its high-water mark.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicUsize, Ordering};
use embedded_alloc::LlffHeap;

/// Heap size: far more than a session needs, so the figure measured is the session's own.
const HEAP_SIZE: usize = 256 * 1024;

/// `embedded-alloc`'s linked-list heap, counting the bytes in use and their peak.
pub struct Tracking {
    heap: LlffHeap,
    used: AtomicUsize,
    peak: AtomicUsize,
}

impl Tracking {
    /// An empty heap; [`init`](Self::init) gives it memory.
    pub const fn new() -> Self {
        Self {
            heap: LlffHeap::empty(),
            used: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// Hands the heap its memory; call once, first thing.
    pub fn init(&self) {
        static mut MEMORY: [MaybeUninit<u8>; HEAP_SIZE] = [MaybeUninit::uninit(); HEAP_SIZE];
        // SAFETY: called once at start-up, before any allocation, and MEMORY is used by
        // nothing else: the heap owns it from here on.
        unsafe {
            self.heap
                .init(core::ptr::addr_of_mut!(MEMORY) as usize, HEAP_SIZE)
        }
    }

    /// Bytes allocated and not yet freed.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Starts a new high-water mark at what is in use now; returns that.
    pub fn reset_peak(&self) -> usize {
        let used = self.used();
        self.peak.store(used, Ordering::Relaxed);
        used
    }

    /// The most bytes in use at once since [`reset_peak`](Self::reset_peak).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

impl Default for Tracking {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every call is forwarded unchanged to the LlffHeap (a GlobalAlloc); the counters
// only observe sizes.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { self.heap.alloc(layout) };
        if !ptr.is_null() {
            let used = self.used.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            self.peak.fetch_max(used, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.used.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { self.heap.dealloc(ptr, layout) }
    }
}

/// The body of a size-measuring program (`src/bin/size-*.rs`): the shared runtime — the
/// heap and semihosting output — around `$run`, an expression giving a `u64` that is printed
/// (so the work cannot be optimised away). The programs differ only in `$run`, so the
/// differences of their `.text` are what `$run` links in.
#[macro_export]
macro_rules! size_program {
    ($name:literal, $run:expr) => {
        #[global_allocator]
        static HEAP: $crate::Tracking = $crate::Tracking::new();

        #[cortex_m_rt::entry]
        fn main() -> ! {
            HEAP.init();
            let result: u64 = $run;
            cortex_m_semihosting::hprintln!("{}: {}", $name, result);
            cortex_m_semihosting::debug::exit(cortex_m_semihosting::debug::EXIT_SUCCESS);
            #[allow(clippy::empty_loop)]
            loop {}
        }
    };
}
