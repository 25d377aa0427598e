//! Reading the activity log: the workspace's audit feed, its exports, and the checks of its hash
//! chain, in the store and in an exported file. Rows are appended by the use cases that make
//! the changes.

pub use crate::domain::log::ActivityEntry;
pub use crate::domain::log::ChainBreak;
pub use crate::store::activity::ActivityFilter;

use super::ServiceError;
use crate::store::{Tx, activity};

/// Entries per batch of an export.
pub const EXPORT_BATCH: i64 = 500;

/// The entries `filter` covers, newest first, before the row id `before` when given.
pub fn search(
    tx: &Tx<'_>,
    filter: &ActivityFilter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ActivityEntry>, ServiceError> {
    Ok(activity::search(tx, filter, before, limit)?)
}

/// One batch of an export: the entries `filter` covers in the chain's order, after `after`.
pub fn export_batch(
    tx: &Tx<'_>,
    filter: &ActivityFilter<'_>,
    after: Option<i64>,
) -> Result<Vec<ActivityEntry>, ServiceError> {
    Ok(activity::chain_batch(tx, filter, after, EXPORT_BATCH)?)
}

/// Walks the whole chain in order: the rows checked and the first break.
pub fn verify_chain(tx: &Tx<'_>) -> Result<(i64, Option<ChainBreak>), ServiceError> {
    Ok(activity::verify(tx)?)
}

/// The check of an exported file, line by line (docs/decisions.md, "Audit export"). The file is
/// read twice: once for the entry id on each line (`index`), then through `check`, so that a
/// line out of place is told from a line removed.
pub struct FileCheck {
    /// The entry ids with their lines (1-based), in the file's order.
    ids: Vec<(i64, usize)>,
    /// For each line, the smallest id on a later line and that line (1-based).
    smallest_after: Vec<Option<(i64, usize)>>,
    /// Whether the export was filtered, so that entries between two lines may be missing.
    filtered: bool,
    /// The entry on the line before: its id and hash.
    last: Option<(i64, String)>,
    pub checked: usize,
}

impl FileCheck {
    pub fn new(filtered: bool) -> FileCheck {
        FileCheck {
            ids: Vec::new(),
            smallest_after: Vec::new(),
            filtered,
            last: None,
            checked: 0,
        }
    }

    /// First pass: the next entry of the file is `id`, on `line`.
    pub fn index(&mut self, id: i64, line: usize) {
        self.ids.push((id, line));
    }

    fn prepare(&mut self) {
        let mut smallest: Option<(i64, usize)> = None;
        self.smallest_after = vec![None; self.ids.len()];
        for (i, (id, line)) in self.ids.iter().enumerate().rev() {
            self.smallest_after[i] = smallest;
            if smallest.is_none_or(|(s, _)| *id < s) {
                smallest = Some((*id, *line));
            }
        }
    }

    /// Second pass: the file's entry number `index` (0-based, as indexed), on `line`, after
    /// the ones before it. `Err` says what is wrong with this line; the first one found is the
    /// one to report.
    pub fn check_at(
        &mut self,
        index: usize,
        line: usize,
        entry: &ActivityEntry,
    ) -> Result<(), String> {
        if self.smallest_after.len() != self.ids.len() {
            self.prepare();
        }
        let id = entry.id;
        if activity::recomputed_hash(entry) != entry.hash {
            return Err(format!(
                "line {line} (entry {id}) was changed: its fields do not give its hash"
            ));
        }
        let later = self.smallest_after.get(index).copied().flatten();
        if let Some((earlier_id, at)) = later.filter(|(s, _)| *s < id) {
            return Err(format!(
                "line {line} (entry {id}) is out of order: entry {earlier_id} comes after it, \
                 at line {at}"
            ));
        }
        if let Some((last_id, last_hash)) = &self.last {
            let last_id = *last_id;
            if id <= last_id {
                return Err(format!(
                    "line {line} (entry {id}) is out of order: it follows entry {last_id}"
                ));
            }
            if entry.prev_hash != *last_hash && (id == last_id + 1 || !self.filtered) {
                let missing = last_id + 1;
                let what = match id - missing {
                    0 => "its previous hash is not the hash of the entry before it".to_owned(),
                    1 => format!("entry {missing} before it was removed"),
                    _ => format!("entries {missing} to {} before it were removed", id - 1),
                };
                return Err(format!("line {line} (entry {id}): {what}"));
            }
        }
        self.last = Some((id, entry.hash.clone()));
        self.checked += 1;
        Ok(())
    }
}
