//! Pure types of the product, each with a `parse()` constructor that is the only way in.

pub(crate) mod account;
pub(crate) mod browser;
pub(crate) mod clock;
pub(crate) mod generation;
pub(crate) mod ip;
pub(crate) mod key;
pub(crate) mod log;
pub(crate) mod money;
pub(crate) mod name;
pub(crate) mod random;
pub(crate) mod region;
pub(crate) mod scope;
pub(crate) mod second_factor;
pub(crate) mod usage;
pub(crate) mod webhook;

pub use clock::{Clock, Timestamp};
pub use ip::{IpAllowlist, IpHasher, TrustedProxies};
pub use key::{Environment, KeyDigest, KeyFormat, KeySecret, KeyStatus};
pub use money::Money;
pub use name::Name;
pub use region::{Region, Regions};
pub use scope::{Preset, Scope, ScopeSet};
