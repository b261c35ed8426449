//! `dump-users`: writes the users of a data set as JSON lines (one user, as
//! the store keeps it, per line), so that a peer server can be loaded with
//! exactly the users the workloads address (see bench/peers/authhero).

use std::io::Write;

use crate::data;

/// Writes users `0..users` of data set `seed` to stdout, one JSON object a line.
pub fn dump_users(users: u64, seed: u64) -> Result<(), String> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, stdout.lock());
    for i in 0..users {
        let u = data::user(seed, i);
        serde_json::to_writer(&mut out, &u).map_err(|e| format!("user {i}: {e}"))?;
        out.write_all(b"\n").map_err(|e| format!("stdout: {e}"))?;
    }
    out.flush().map_err(|e| format!("stdout: {e}"))
}
