//! The machine's own limits, measured in the same run as the workloads:
//! RS256 signatures per second (`openssl speed -seconds S -multi N rsa2048`)
//! and bcrypt cost-10 hashes per second on N threads (the bcrypt crate
//! castellan uses).

use std::process::Command;
use std::time::{Duration, Instant};

pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Signs per second from `openssl speed` output: the `rsa 2048 bits` row,
/// in the column headed `sign/s`.
pub fn parse_openssl_speed(out: &str) -> Option<f64> {
    let mut sign_col = None;
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.iter().position(|w| *w == "sign/s") {
            sign_col = Some(i);
            continue;
        }
        if words.len() >= 3 && words[0] == "rsa" && words[1] == "2048" && words[2] == "bits" {
            let i = sign_col?;
            // The header has no "rsa 2048 bits" words: its columns start at
            // the row's 4th word ("sign").
            return words.get(i + 3).and_then(|w| w.parse().ok());
        }
    }
    None
}

pub fn openssl_rsa2048_sign(seconds: u64) -> Result<f64, String> {
    let out = Command::new("openssl")
        .args(["speed", "-seconds", &seconds.to_string(), "-multi", &cores().to_string(), "rsa2048"])
        .output()
        .map_err(|e| format!("openssl: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_openssl_speed(&text).ok_or_else(|| format!("cannot read openssl speed output:\n{text}"))
}

/// bcrypt cost-10 hashes per second on `threads` threads for `dur`.
pub fn bcrypt_rate(threads: usize, dur: Duration) -> f64 {
    let started = Instant::now();
    let handles: Vec<_> = (0..threads.max(1))
        .map(|t| {
            std::thread::spawn(move || {
                let mut n = 0u64;
                while started.elapsed() < dur {
                    let _ = bcrypt::hash(format!("Bench-Passw0rd!{t}-{n}"), 10);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    total as f64 / started.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openssl_3_speed_output() {
        let out = "Got: +R1:2:2048:5.00 from 0\n\
                   Got: +R1:2:2048:5.00 from 1\n\
                   version: 3.0.19\n\
                   \x20                 sign    verify    sign/s verify/s\n\
                   rsa 2048 bits 0.000108s 0.000007s   9252.2 150000.0\n";
        assert_eq!(parse_openssl_speed(out), Some(9252.2));
        assert_eq!(parse_openssl_speed("nothing"), None);
    }
}
