//! Attack protection state beyond the per-user counters of `auth.rs`: the
//! brute-force blocks an administrator reads and clears, suspicious-IP
//! throttling (a token bucket of failed logins per IP), releasing blocked
//! IPs, and atomic updates of one key of the tenant's settings.

use castellan_domain::log_event::LogEvent;
use serde_json::{Map, Value};

use crate::docs::parse;
use crate::sql::Sql;
use crate::{get_i64, get_str, Dialect, Result, Store};

/// A brute-force block: a user blocked from `ip` (`""`: from everywhere, as
/// counted in `count_per_identifier` mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginBlock {
    pub user_id: String,
    pub ip: String,
    pub failures: i64,
}

/// A token bucket: `max` attempts, one more granted every `rate_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub max: i64,
    pub rate_ms: i64,
}

impl Bucket {
    /// The bucket's level at `now` after refilling since `(attempts,
    /// updated_at)`, with the time the remaining level counts from.
    pub fn drain(&self, attempts: i64, updated_at: i64, now: i64) -> (i64, i64) {
        let rate = self.rate_ms.max(1);
        let elapsed = (now - updated_at).max(0);
        let granted = elapsed / rate;
        let left = (attempts - granted).max(0);
        if left == 0 {
            (0, now)
        } else {
            (left, updated_at + granted * rate)
        }
    }
}

fn in_list(q: &mut Sql, col: &str, values: &[String]) {
    q.push(" AND ").push(col).push(" IN (");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.text(v.clone());
    }
    q.push(")");
}

impl Store {
    /// The brute-force blocks of these users, by user and IP.
    pub async fn login_blocks(&self, tenant: i64, user_ids: &[String]) -> Result<Vec<LoginBlock>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Sql::new("SELECT user_id, ip, failures FROM login_failures WHERE tenant_id = ");
        q.int(tenant);
        in_list(&mut q, "user_id", user_ids);
        q.push(" AND blocked_at IS NOT NULL ORDER BY user_id, ip");
        let rows = q.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(LoginBlock {
                    user_id: get_str(r, "user_id")?,
                    ip: get_str(r, "ip")?,
                    failures: get_i64(r, "failures")?,
                })
            })
            .collect()
    }

    /// Forgets these users' failed-login counts and blocks. Returns how many
    /// (user, IP) counters there were.
    pub async fn clear_login_blocks(&self, tenant: i64, user_ids: &[String], events: &[LogEvent]) -> Result<u64> {
        if user_ids.is_empty() {
            self.insert_logs(tenant, events).await?;
            return Ok(0);
        }
        let mut q = Sql::new("DELETE FROM login_failures WHERE tenant_id = ");
        q.int(tenant);
        in_list(&mut q, "user_id", user_ids);
        self.exec_logged(tenant, &q, events, "conflict").await
    }

    /// Counts a failed login from `ip` in its bucket. Returns true when this
    /// failure empties the bucket (the IP is throttled from now on).
    pub async fn record_ip_failure(&self, tenant: i64, ip: &str, now: i64, bucket: Bucket) -> Result<bool> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut i = Sql::new("INSERT INTO ip_failures (tenant_id, ip, attempts, updated_at) VALUES (");
        i.int(tenant).push(", ").text(ip).push(", 0, ").int(now).push(") ON CONFLICT (tenant_id, ip) DO NOTHING");
        i.build().execute(&mut *tx).await?;
        let mut q = Sql::new("SELECT attempts, updated_at FROM ip_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND ip = ").text(ip);
        if self.dialect == Dialect::Postgres {
            q.push(" FOR UPDATE");
        }
        let row = q.build().fetch_one(&mut *tx).await?;
        let (level, since) = bucket.drain(get_i64(&row, "attempts")?, get_i64(&row, "updated_at")?, now);
        let mut u = Sql::new("UPDATE ip_failures SET attempts = ");
        u.int(level + 1).push(", updated_at = ").int(since);
        u.push(" WHERE tenant_id = ").int(tenant).push(" AND ip = ").text(ip);
        u.build().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(level < bucket.max && level + 1 >= bucket.max)
    }

    /// Whether `ip` has no attempts left in its bucket.
    pub async fn ip_throttled(&self, tenant: i64, ip: &str, now: i64, bucket: Bucket) -> Result<bool> {
        let mut q = Sql::new("SELECT attempts, updated_at FROM ip_failures WHERE tenant_id = ");
        q.int(tenant).push(" AND ip = ").text(ip);
        Ok(match q.build().fetch_optional(&self.pool).await? {
            Some(r) => bucket.drain(get_i64(&r, "attempts")?, get_i64(&r, "updated_at")?, now).0 >= bucket.max,
            None => false,
        })
    }

    /// Lifts every block of `ip` (throttling and explicit blocks). Returns
    /// how many there were.
    pub async fn release_ip(&self, tenant: i64, ip: &str, events: &[LogEvent]) -> Result<u64> {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut n = 0;
        for table in ["ip_blocks", "ip_failures"] {
            let mut d = Sql::new(&format!("DELETE FROM {table} WHERE tenant_id = "));
            d.int(tenant).push(" AND ip = ").text(ip);
            n += d.build().execute(&mut *tx).await?.rows_affected();
        }
        self.insert_logs_tx(&mut tx, tenant, events).await?;
        tx.commit().await?;
        Ok(n)
    }

    /// Replaces one key of the tenant's settings with what `update` makes of
    /// its current value, and records the events it returns, in one
    /// transaction (so concurrent updates of the settings do not lose each
    /// other's changes). Returns the new value.
    pub async fn update_tenant_setting<F>(&self, tenant: i64, key: &str, update: F) -> Result<Value>
    where
        F: FnOnce(Option<&Value>) -> (Value, Vec<LogEvent>),
    {
        let _w = self.write_guard().await;
        let mut tx = self.write_tx().await?;
        let mut q = Sql::new("SELECT settings FROM tenants WHERE id = ");
        q.int(tenant);
        if self.dialect == Dialect::Postgres {
            q.push(" FOR UPDATE");
        }
        let row = q.build().fetch_one(&mut *tx).await?;
        let mut settings = match parse(&get_str(&row, "settings")?)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let (value, events) = update(settings.get(key));
        settings.insert(key.to_string(), value.clone());
        let mut u = Sql::new("UPDATE tenants SET settings = ");
        u.text(Value::Object(settings).to_string()).push(" WHERE id = ").int(tenant);
        u.build().execute(&mut *tx).await?;
        self.insert_logs_tx(&mut tx, tenant, &events).await?;
        tx.commit().await?;
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_one_attempt_per_interval() {
        let b = Bucket { max: 3, rate_ms: 100 };
        assert_eq!(b.drain(3, 1000, 1000), (3, 1000));
        assert_eq!(b.drain(3, 1000, 1099), (3, 1000));
        assert_eq!(b.drain(3, 1000, 1150), (2, 1100), "the half interval still counts towards the next");
        assert_eq!(b.drain(3, 1000, 1350), (0, 1350));
        assert_eq!(b.drain(2, 1000, 900), (2, 1000), "a clock going back grants nothing");
        assert_eq!(Bucket { max: 1, rate_ms: 0 }.drain(5, 0, 2), (3, 2));
    }
}
