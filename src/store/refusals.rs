//! Reads of the daily counts of requests refused before a key was known (`refusals_daily`,
//! written by the request-log writer).

use super::StoreError;
use super::Tx;
use crate::domain::log::RefusalTally;

/// Each address's refusals per reason from `since_day` (inclusive, `YYYY-MM-DD`) on, most first,
/// at most `limit` of them. The address is the one kept on any of those days, if any was.
pub fn refusals_since(
    tx: &Tx<'_>,
    since_day: &str,
    limit: i64,
) -> Result<Vec<RefusalTally>, StoreError> {
    tx.query_all(
        "SELECT ip_hash, MAX(client_ip), reason, SUM(requests) AS n FROM refusals_daily
         WHERE day >= ?1 GROUP BY ip_hash, reason ORDER BY n DESC, ip_hash, reason LIMIT ?2",
        &[&since_day, &limit],
        |r| {
            Ok(RefusalTally {
                ip_hash: r.get(0)?,
                client_ip: r.get(1)?,
                reason: r.get(2)?,
                requests: r.get(3)?,
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    #[test]
    fn refusals_add_up_per_address_and_reason_with_the_address_any_day_kept() {
        let (_dir, store) = Store::temporary();
        let mut db = store.db().unwrap();
        let conn = db.read();
        conn.batch(
            "INSERT INTO refusals_daily (day, ip_hash, reason, requests, client_ip) VALUES
                 ('2026-01-01', 'aa', 'BSE1002', 5, '198.51.100.7'),
                 ('2026-01-02', 'aa', 'BSE1002', 2, NULL),
                 ('2026-01-02', 'aa', 'firewall', 1, '198.51.100.7'),
                 ('2026-01-02', 'bb', 'BSE1001', 3, NULL),
                 ('2025-12-31', 'cc', 'BSE1001', 9, '203.0.113.9')",
        )
        .unwrap();
        let found = refusals_since(&conn, "2026-01-01", 10).unwrap();
        let tally = |hash: &str, ip: Option<&str>, reason: &str, requests| RefusalTally {
            ip_hash: hash.to_owned(),
            client_ip: ip.map(str::to_owned),
            reason: reason.to_owned(),
            requests,
        };
        assert_eq!(
            found,
            vec![
                tally("aa", Some("198.51.100.7"), "BSE1002", 7),
                tally("bb", None, "BSE1001", 3),
                tally("aa", Some("198.51.100.7"), "firewall", 1),
            ]
        );
        assert_eq!(refusals_since(&conn, "2026-01-01", 1).unwrap().len(), 1);
    }
}
