//! One row per (field, value) for each user's search terms.
//!
//! Terms are written as a set (see `terms::dedupe`). A store written before
//! that may hold a value twice for a user (a tag an array repeats), so
//! counts of a metadata value used COUNT(DISTINCT user). `dedupe_terms`
//! removes the extra rows of such a store, a hundred users a transaction
//! and at most half of the time, so that writers wait at most one short
//! transaction and keep most of the lock, then records
//! `terms_unique` in `store_flags`. From then on a count of one value's
//! rows is a count of its users (see `Store::one_row_per_user`).

use std::sync::atomic::Ordering;

use crate::sql::Sql;
use crate::{get_i64, Dialect, Result, Store};

/// Users one transaction goes through: ~3 ms under SQLite's write lock at
/// 30 terms a user, which a PATCH waiting for it barely notices.
const CHUNK: i64 = 100;

impl Store {
    /// Reads what `store_flags` says of the stored data.
    pub(crate) async fn read_flags(&self) -> Result<()> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM store_flags WHERE name = 'terms_unique'")
            .fetch_one(&self.pool)
            .await?;
        self.terms_unique.store(get_i64(&row, "n")? > 0, Ordering::SeqCst);
        Ok(())
    }

    /// Whether no user has a (field, value) term twice.
    pub fn terms_unique(&self) -> bool {
        self.terms_unique.load(Ordering::Relaxed)
    }

    /// Removes every user's second and later rows of a (field, value) term
    /// (keeping one with a number where a number and a string of the same
    /// text met), then records that none are left. Returns how many rows it
    /// removed; 0 at once on a store that has none. Users written meanwhile
    /// get their terms as a set anyway.
    pub async fn dedupe_terms(&self) -> Result<u64> {
        if self.terms_unique() {
            return Ok(0);
        }
        let row = sqlx::query("SELECT COALESCE(MAX(pk), 0) AS top FROM users").fetch_one(&self.pool).await?;
        let top = get_i64(&row, "top")?;
        let rid = match self.dialect {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "ctid",
        };
        let mut removed = 0;
        let mut from = 0;
        while from <= top {
            let to = from.saturating_add(CHUNK);
            let mut q = Sql::new(&format!(
                "DELETE FROM user_terms WHERE {rid} IN (SELECT rid FROM (SELECT {rid} AS rid, row_number() OVER \
                 (PARTITION BY user_pk, field, value, CASE WHEN value IS NULL THEN num END \
                 ORDER BY num IS NULL, {rid}) AS n FROM user_terms WHERE user_pk >= "
            ));
            q.int(from).push(" AND user_pk < ").int(to).push(") d WHERE n > 1)");
            let started = std::time::Instant::now();
            {
                let _w = self.write_guard().await;
                let mut tx = self.write_tx().await?;
                removed += q.build().execute(&mut *tx).await?.rows_affected();
                tx.commit().await?;
            }
            from = to;
            // At most half of the time: writers come first.
            tokio::time::sleep(started.elapsed()).await;
        }
        {
            let _w = self.write_guard().await;
            let mut tx = self.write_tx().await?;
            sqlx::query("INSERT INTO store_flags (name) VALUES ('terms_unique') ON CONFLICT DO NOTHING")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
        self.terms_unique.store(true, Ordering::SeqCst);
        Ok(removed)
    }
}
