//! Pure types of the product, each with a `parse()` constructor that is the only way in.

pub mod account;
pub mod clock;
pub mod generation;
pub mod ip;
pub mod key;
pub mod log;
pub mod money;
pub mod name;
pub mod random;
pub mod region;
pub mod scope;
pub mod usage;
pub mod webhook;

pub use clock::{Clock, Timestamp};
pub use ip::{IpAllowlist, IpHasher, TrustedProxies};
pub use key::{Environment, KeyDigest, KeyFormat, KeySecret, KeyStatus};
pub use money::Money;
pub use name::Name;
pub use region::{Region, Regions};
pub use scope::{Preset, Scope, ScopeSet};
