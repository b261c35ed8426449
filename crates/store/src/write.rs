//! A write transaction whose BEGIN and COMMIT travel with its statements.
//!
//! On SQLite every call to a connection is a hand-off to the connection's
//! thread and back, and sqlx's own `BEGIN` and `COMMIT` are two hand-offs
//! each (they wait for an acknowledgement). Under the write lock these
//! hand-offs are most of a small write's time: `Write` sends `BEGIN
//! IMMEDIATE` as the first statement of its first script and `COMMIT` as the
//! last statement of its final one, so a write that needs no answer from
//! the database before it commits is a single call. On PostgreSQL it is a
//! plain sqlx transaction, and scripts run statement by statement.
//!
//! A `Write` dropped while its transaction is open (an error, a cancelled
//! request) closes its SQLite connection instead of returning it to the
//! pool: closing rolls the transaction back.

use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Executor, Transaction};

use crate::sql::Script;
use crate::{Dialect, Result, Store};

pub(crate) struct Write {
    inner: Inner,
}

enum Inner {
    Sqlite {
        conn: PoolConnection<Any>,
        /// BEGIN has been sent (and no COMMIT or ROLLBACK since).
        open: bool,
    },
    Postgres(Transaction<'static, Any>),
    /// Committed or rolled back.
    Done,
}

impl Store {
    /// Starts a write transaction (the caller holds the write lock).
    pub(crate) async fn write(&self) -> Result<Write> {
        Ok(Write {
            inner: match self.dialect {
                Dialect::Sqlite => Inner::Sqlite { conn: self.writer.acquire().await?, open: false },
                Dialect::Postgres => Inner::Postgres(self.pool.begin().await?),
            },
        })
    }
}

impl Write {
    /// The connection for queries of the caller's own, inside the
    /// transaction (on SQLite, BEGIN is sent first if it was not yet).
    pub(crate) async fn conn(&mut self) -> Result<&mut AnyConnection> {
        match &mut self.inner {
            Inner::Sqlite { conn, open } => {
                if !*open {
                    *open = true;
                    conn.execute("BEGIN IMMEDIATE").await?;
                }
                Ok(&mut **conn)
            }
            Inner::Postgres(tx) => Ok(&mut **tx),
            Inner::Done => Err(done()),
        }
    }

    /// The connection for reads that need not be inside the transaction: on
    /// SQLite, before BEGIN they read the last commit, which under the write
    /// lock is what the transaction would read.
    pub(crate) fn reader(&mut self) -> Result<&mut AnyConnection> {
        match &mut self.inner {
            Inner::Sqlite { conn, .. } => Ok(&mut **conn),
            Inner::Postgres(tx) => Ok(&mut **tx),
            Inner::Done => Err(done()),
        }
    }

    /// Runs `script` in the transaction; the rows each statement affected.
    pub(crate) async fn run(&mut self, script: Script) -> std::result::Result<Vec<u64>, sqlx::Error> {
        Ok(self.run_then(script, false, false).await?.0)
    }

    /// Runs `script` in the transaction (on SQLite, BEGIN goes in the same
    /// call); the rows each of its statements selected, in order.
    pub(crate) async fn fetch(&mut self, script: Script) -> std::result::Result<Vec<Vec<AnyRow>>, sqlx::Error> {
        Ok(self.run_then(script, false, true).await?.1)
    }

    /// Runs `script` and commits; the rows each statement of `script`
    /// affected. On SQLite one call carries BEGIN (if owed), the script and
    /// COMMIT. On an error nothing is committed.
    pub(crate) async fn commit_with(mut self, script: Script) -> std::result::Result<Vec<u64>, sqlx::Error> {
        let (affected, _) = self.run_then(script, true, false).await?;
        if let Inner::Postgres(tx) = std::mem::replace(&mut self.inner, Inner::Done) {
            tx.commit().await?;
        }
        Ok(affected)
    }

    /// Commits what ran.
    pub(crate) async fn commit(self) -> std::result::Result<(), sqlx::Error> {
        let dialect = match self.inner {
            Inner::Postgres(_) => Dialect::Postgres,
            _ => Dialect::Sqlite,
        };
        self.commit_with(Script::new(dialect)).await.map(|_| ())
    }

    /// Rolls back whatever ran; the connection goes back to the pool.
    pub(crate) async fn rollback(mut self) -> Result<()> {
        match &mut self.inner {
            Inner::Sqlite { conn, open } => {
                if *open {
                    conn.execute("ROLLBACK").await?;
                    *open = false;
                }
            }
            Inner::Postgres(_) => {
                if let Inner::Postgres(tx) = std::mem::replace(&mut self.inner, Inner::Done) {
                    tx.rollback().await?;
                }
            }
            Inner::Done => {}
        }
        Ok(())
    }

    /// Runs `script` (then commits when `commit`); the rows each statement
    /// affected and, when `rows`, the rows each selected.
    async fn run_then(
        &mut self,
        script: Script,
        commit: bool,
        rows: bool,
    ) -> std::result::Result<(Vec<u64>, Vec<Vec<AnyRow>>), sqlx::Error> {
        match &mut self.inner {
            Inner::Sqlite { conn, open } => {
                let before = if *open { "" } else { "BEGIN IMMEDIATE;\n" };
                let after = if commit { ";\nCOMMIT" } else { "" };
                *open = true;
                let affected = script.fetch_wrapped(conn, before, after, rows).await;
                match &affected {
                    Ok(_) if commit => *open = false,
                    Ok(_) => {}
                    // Whatever ran is undone here when the connection can
                    // still say so; otherwise dropping closes it.
                    Err(_) => {
                        if conn.execute("ROLLBACK").await.is_ok() {
                            *open = false;
                        }
                    }
                }
                affected
            }
            Inner::Postgres(tx) => script.fetch_wrapped(tx, "", "", rows).await,
            Inner::Done => Err(sqlx::Error::Protocol("the transaction has ended".into())),
        }
    }
}

fn done() -> crate::StoreError {
    crate::StoreError::Db(sqlx::Error::Protocol("the transaction has ended".into()))
}

impl Drop for Write {
    fn drop(&mut self) {
        if let Inner::Sqlite { conn, open: true } = &mut self.inner {
            conn.close_on_drop();
        }
    }
}
