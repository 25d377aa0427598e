//! Generation's façade: the model catalog, the generated files on disk, the record as clients
//! see it, and the [`Generator`] the API and the workers share. Checking and pricing a request
//! live in `domain::generation`, the providers in `providers`, the workers in `jobs::generation`.

pub mod catalog;
mod generator;
pub mod media;
pub mod record;

pub use catalog::Catalog;
pub use generator::{Generator, Registration, Running, Taken};
