//! Time as a parameter: the session never reads a clock.

use core::ops::Add;
use core::time::Duration;

/// A point in time: the duration since an origin the driver picks (for example the moment
/// it created the session). Drivers must pass non-decreasing values.
///
/// ```
/// use pop3_proto::Instant;
/// use core::time::Duration;
///
/// let origin = std::time::Instant::now();
/// let now = Instant::from_elapsed(origin.elapsed());
/// assert!(now + Duration::from_secs(1) > now);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The driver's origin.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `elapsed` after the driver's origin.
    pub fn from_elapsed(elapsed: Duration) -> Self {
        Self(elapsed)
    }

    /// Time since the driver's origin.
    pub fn elapsed(self) -> Duration {
        self.0
    }

    /// How long from `self` until `later` (zero if `later` is not later).
    pub fn until(self, later: Instant) -> Duration {
        later.0.saturating_sub(self.0)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs))
    }
}
