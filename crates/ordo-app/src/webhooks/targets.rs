//! Where a webhook may go: only public addresses (IANA's special-purpose ranges refused, when
//! the endpoint is saved and again as each delivery resolves its host), over a client that
//! follows no redirects.

use super::*;

pub(super) fn parse_url(raw: &str) -> AppResult<reqwest::Url> {
    let bad = |why: &str| -> AppError {
        ParseError::new("invalid_url", why.to_owned())
            .at("url")
            .into()
    };
    if raw.len() > 2_048 {
        return Err(bad("url must be at most 2,048 characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| bad(&format!("url is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(bad("url must be an http or https URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "url must not carry credentials: the signature authenticates Ordo",
        ));
    }
    Ok(url)
}

/// Address ranges the public internet does not route to a server of someone else's: IANA's
/// special-purpose registries (IPv4 and IPv6), less the few entries marked globally reachable,
/// plus the transition prefixes that embed or translate to another address (NAT64, 6to4,
/// Teredo) — a webhook to one of those could reach an internal host through a gateway.
pub(super) const NON_PUBLIC_V4: &[([u8; 4], u8, &str)] = &[
    ([0, 0, 0, 0], 8, "this network"),
    ([10, 0, 0, 0], 8, "private"),
    ([100, 64, 0, 0], 10, "shared (carrier-grade NAT)"),
    ([127, 0, 0, 0], 8, "loopback"),
    ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
    ([172, 16, 0, 0], 12, "private"),
    ([192, 0, 0, 0], 24, "IETF protocol assignments"),
    ([192, 0, 2, 0], 24, "documentation"),
    ([192, 88, 99, 0], 24, "6to4 relay anycast"),
    ([192, 168, 0, 0], 16, "private"),
    ([198, 18, 0, 0], 15, "benchmarking"),
    ([198, 51, 100, 0], 24, "documentation"),
    ([203, 0, 113, 0], 24, "documentation"),
    ([224, 0, 0, 0], 4, "multicast"),
    ([240, 0, 0, 0], 4, "reserved, and broadcast"),
];

pub(super) const NON_PUBLIC_V6: &[([u16; 8], u8, &str)] = &[
    (
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        "unspecified, loopback and IPv4-compatible",
    ),
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped"),
    ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64"),
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    (
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
    ),
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing"),
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local"),
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
];

/// The range of the tables `ip` falls in, if any.
pub(super) fn non_public_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let addr = u32::from(v4);
            NON_PUBLIC_V4.iter().find_map(|(net, prefix, what)| {
                let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
                (addr & mask == u32::from_be_bytes(*net) & mask).then_some(*what)
            })
        }
        IpAddr::V6(v6) => {
            let addr = u128::from(v6);
            NON_PUBLIC_V6.iter().find_map(|(net, prefix, what)| {
                let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
                let net = u128::from(std::net::Ipv6Addr::from(*net));
                (addr & mask == net & mask).then_some(*what)
            })
        }
    }
}

/// Whether an address is one the public internet can reach (see [`NON_PUBLIC_V4`] and
/// [`NON_PUBLIC_V6`]).
pub(super) fn is_public(ip: IpAddr) -> bool {
    non_public_range(ip).is_none()
}

/// Resolves names for the webhook client, refusing non-public addresses (so the check and the
/// connection use the same answer: no DNS rebinding in between).
pub(super) struct PublicOnly {
    pub(super) allow_private: bool,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!("{} resolves to no public address", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Checks a target before saving it: it must resolve, and only to public addresses.
pub(super) async fn check_target(url: &reqwest::Url, allow_private: bool) -> AppResult<()> {
    let refused = |why: String| -> AppError {
        AppError::unprocessable("webhook_target_refused", why, Some("url"))
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs: Vec<IpAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| refused(format!("{host} does not resolve: {e}")))?
            .map(|a| a.ip())
            .collect(),
    };
    if addrs.is_empty() {
        return Err(refused(format!("{host} does not resolve")));
    }
    if !allow_private && let Some(ip) = addrs.iter().find(|ip| !is_public(**ip)) {
        return Err(refused(format!(
            "{host} is, or resolves to, {ip}, which is not a public address (loopback, private, \
             link-local and metadata addresses are refused)"
        )));
    }
    Ok(())
}

/// Makes ring the process's TLS crypto provider (a second call is a no-op). Every HTTP client
/// in Ordo's build needs it before it is built: outbound webhooks need TLS, and with ring as
/// the one provider (async-nats uses it too) nothing picks one for them.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A plain HTTP client with the TLS provider in place (for tools and tests).
pub fn http_client() -> reqwest::Client {
    install_tls_provider();
    reqwest::Client::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "3fff::1",
            "5f00::1",
            "fc00::1",
            "fd00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip} is not public");
        }
        // Public, including the neighbours of each non-public range.
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2606:4700::1111",
            "2a00:1450:4001::200e",
            "2001:200::1",
            "2003::1",
            "64:ff9c::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip} is public");
        }
    }
}
