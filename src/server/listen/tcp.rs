//! The opt-in TCP listener: loopback unless the user insists, and never without the rules in
//! `http::guard`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

#[derive(Debug, thiserror::Error)]
pub(crate) enum TcpError {
    #[error(
        "--tcp {0:?}: expected ADDR:PORT (127.0.0.1:8080, [::1]:8080, localhost:8080) or a port"
    )]
    Parse(String),
    #[error(
        "refusing to listen on {0}: it is not a loopback address, so other machines could reach it. \
         Use 127.0.0.1:{port} or [::1]:{port}, or pass --allow-remote to mean it (a key is then required)",
        port = .0.port()
    )]
    NotLoopback(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// `ADDR:PORT`, `localhost:PORT`, or a bare `PORT` (on 127.0.0.1).
pub(crate) fn parse_addr(s: &str) -> Result<SocketAddr, TcpError> {
    let s = s.trim();
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let port = match s.rsplit_once(':') {
        Some((host, port)) if host.eq_ignore_ascii_case("localhost") => port,
        Some(_) => return Err(TcpError::Parse(s.to_owned())),
        None => s,
    };
    // "localhost" is pinned to 127.0.0.1 rather than resolved, so /etc/hosts cannot move it off loopback.
    port.parse::<u16>()
        .map(|p| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), p))
        .map_err(|_| TcpError::Parse(s.to_owned()))
}

pub(crate) fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().to_canonical().is_loopback()
}

/// Refuses a non-loopback address unless `allow_remote`.
pub(crate) fn check_reach(addr: SocketAddr, allow_remote: bool) -> Result<(), TcpError> {
    if is_loopback(&addr) || allow_remote {
        Ok(())
    } else {
        Err(TcpError::NotLoopback(addr))
    }
}

pub(crate) async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, TcpError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| TcpError::Bind { addr, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        let ok = |s: &str| parse_addr(s).expect(s).to_string();
        assert_eq!(ok("127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(ok("[::1]:8080"), "[::1]:8080");
        assert_eq!(ok("localhost:9"), "127.0.0.1:9");
        assert_eq!(ok("8080"), "127.0.0.1:8080");
        assert!(parse_addr("example.com:80").is_err());
        assert!(parse_addr("127.0.0.1").is_err());
        assert!(parse_addr("localhost:http").is_err());

        assert!(check_reach(parse_addr("127.0.0.2:1").expect("addr"), false).is_ok());
        let any = parse_addr("0.0.0.0:8080").expect("addr");
        let err = check_reach(any, false).expect_err("refused");
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        assert!(check_reach(any, true).is_ok());
        assert!(check_reach(parse_addr("[::]:1").expect("addr"), false).is_err());
    }
}
