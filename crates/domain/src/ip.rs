//! IP addresses and CIDR ranges as attack protection names them: allowlist
//! entries (`10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`) and the addresses
//! checked against them. IPv4-mapped IPv6 addresses count as IPv4.

use std::net::IpAddr;

/// The address, with `::ffff:a.b.c.d` read as `a.b.c.d`.
pub fn canonical(ip: &str) -> Option<IpAddr> {
    let addr: IpAddr = ip.trim().parse().ok()?;
    Some(match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    })
}

/// An address or a CIDR range: (network, prefix length).
pub fn range(entry: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (entry, None),
    };
    let addr: IpAddr = addr.trim().parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse::<u8>().ok()?,
        Some(_) => return None,
        None => max,
    };
    (bits <= max).then_some((addr, bits))
}

fn bits_of(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// Whether `ip` lies in the range `entry`.
pub fn contains(entry: &str, ip: &str) -> bool {
    let (Some((net, prefix)), Some(addr)) = (range(entry), canonical(ip)) else {
        return false;
    };
    // `::ffff:10.0.0.0/104` is `10.0.0.0/8`.
    let (net, prefix) = match net {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
            _ => (IpAddr::V6(v6), prefix),
        },
        v4 => (v4, prefix),
    };
    if net.is_ipv4() != addr.is_ipv4() {
        return false;
    }
    let width: u32 = if net.is_ipv4() { 32 } else { 128 };
    let shift = width - u32::from(prefix);
    shift >= 128 || (bits_of(net) >> shift) == (bits_of(addr) >> shift)
}

/// Whether any entry of the allowlist covers `ip`.
pub fn allowlisted(list: &[String], ip: &str) -> bool {
    list.iter().any(|entry| contains(entry, ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_addresses_or_ranges() {
        for ok in ["127.0.0.1", "10.0.0.0/8", "0.0.0.0/0", "2001:db8::/32", "::1", "::ffff:1.2.3.4/128"] {
            assert!(range(ok).is_some(), "{ok}");
        }
        for bad in
            ["", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/x", "1.2.3", "2001:db8::/129", "host.example", "1.2.3.4/+8"]
        {
            assert!(range(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn ranges_contain_their_addresses() {
        let cases = [
            ("10.0.0.0/8", "10.200.3.4", true),
            ("10.0.0.0/8", "11.0.0.1", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("0.0.0.0/0", "203.0.113.9", true),
            ("192.168.1.0/24", "::ffff:192.168.1.77", true),
            ("::ffff:10.0.0.0/104", "10.1.2.3", true),
            ("2001:db8::/32", "2001:db8:1::5", true),
            ("2001:db8::/32", "2001:db9::5", false),
            ("::/0", "::1", true),
            ("::/0", "1.2.3.4", false),
            ("10.0.0.0/8", "not an ip", false),
        ];
        for (entry, ip, want) in cases {
            assert_eq!(contains(entry, ip), want, "{entry} {ip}");
        }
        assert!(allowlisted(&["1.1.1.1".into(), "10.0.0.0/8".into()], "10.9.9.9"));
        assert!(!allowlisted(&[], "10.9.9.9"));
    }
}
