//! `--resolve` and `--connect-to`, as curl and oha spell them: where a URL's connections go,
//! apart from the name in it.
//!
//! The name stays the URL's: it is the `Host` header and the name TLS verifies, so an old and a
//! new stack behind one name can be probed by their addresses before DNS points at either.
//! curl's order is kept: the first `--connect-to` that matches the URL's host and port picks
//! where to connect, then the first `--resolve` that matches that host and port gives its
//! addresses (no lookup, no dns phase). A route no URL uses is refused by `config`: it is a
//! typo, most often a port left out (`notes.test:443`).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// `--resolve HOST:PORT:ADDR[,ADDR]…`: the addresses of a name at a port, in the order tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolve {
    /// The name, or `*` for any.
    host: String,
    port: u16,
    addrs: Vec<IpAddr>,
}

/// `--connect-to HOST:PORT:HOST2:PORT2`: connections to HOST at PORT go to HOST2 at PORT2. An
/// empty part matches any host or port (HOST, PORT) or keeps the URL's (HOST2, PORT2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectTo {
    host: Option<String>,
    port: Option<u16>,
    to_host: Option<String>,
    to_port: Option<u16>,
}

/// Where one URL's connections go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dial {
    /// These addresses, in turn: no lookup.
    Addrs(Vec<SocketAddr>),
    /// The addresses this name resolves to.
    Name { host: String, port: u16 },
}

/// Every `--connect-to` and `--resolve` of a run, in the order given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Routes {
    pub connect_to: Vec<ConnectTo>,
    pub resolve: Vec<Resolve>,
}

/// Which routes one URL took: indices into [`Routes::connect_to`] and [`Routes::resolve`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Taken {
    pub connect_to: Option<usize>,
    pub resolve: Option<usize>,
}

impl Taken {
    /// Whether any route applies.
    pub fn any(self) -> bool {
        self.connect_to.is_some() || self.resolve.is_some()
    }
}

impl Routes {
    /// Where the connections of a URL with `host` (as the URL spells it, IPv6 in brackets or
    /// not) and `port` go, and which routes said so.
    pub fn dial(&self, host: &str, port: u16) -> (Dial, Taken) {
        let mut taken = Taken::default();
        let (host, port, connect_to) = self.connect_target(host, port);
        taken.connect_to = connect_to;
        if let Some(i) = self.resolve.iter().position(|r| r.matches(&host, port)) {
            taken.resolve = Some(i);
            let addrs = self.resolve[i].addrs.iter().map(|&ip| SocketAddr::new(ip, port)).collect();
            return (Dial::Addrs(addrs), taken);
        }
        match host.parse::<IpAddr>() {
            Ok(ip) => (Dial::Addrs(vec![SocketAddr::new(ip, port)]), taken),
            Err(_) => (Dial::Name { host, port }, taken),
        }
    }

    /// Where the first `--connect-to` that matches `host` and `port` leads (the URL's own host
    /// and port when none does), and which one it was.
    fn connect_target(&self, host: &str, port: u16) -> (String, u16, Option<usize>) {
        let host = bare(host);
        match self.connect_to.iter().position(|c| c.matches(host, port)) {
            Some(i) => {
                let c = &self.connect_to[i];
                (c.to_host.clone().unwrap_or_else(|| host.to_string()), c.to_port.unwrap_or(port), Some(i))
            }
            None => (host.to_string(), port, None),
        }
    }

    /// A route that matches one of `hosts` (URLs' hosts and ports) but is never taken, because an
    /// earlier one of its kind matches first (curl's first match wins): both as reports show
    /// them.
    pub fn shadowed(&self, hosts: &[(&str, u16)]) -> Option<(String, String)> {
        let taken: Vec<Taken> = hosts.iter().map(|&(host, port)| self.dial(host, port).1).collect();
        let unused_connect = |i: usize| taken.iter().all(|t| t.connect_to != Some(i));
        let unused_resolve = |i: usize| taken.iter().all(|t| t.resolve != Some(i));
        for &(host, port) in hosts {
            let (to_host, to_port, first) = self.connect_target(host, port);
            if let Some(first) = first
                && let Some(later) = (first + 1..self.connect_to.len())
                    .find(|&i| unused_connect(i) && self.connect_to[i].matches(bare(host), port))
            {
                return Some((
                    format!("--connect-to {}", self.connect_to[later]),
                    format!("--connect-to {}", self.connect_to[first]),
                ));
            }
            let mut matching = (0..self.resolve.len()).filter(|&i| self.resolve[i].matches(&to_host, to_port));
            if let Some(first) = matching.next()
                && let Some(later) = matching.find(|&i| unused_resolve(i))
            {
                return Some((
                    format!("--resolve {}", self.resolve[later]),
                    format!("--resolve {}", self.resolve[first]),
                ));
            }
        }
        None
    }

    /// Which routes `url`'s connections take.
    pub fn taken_by(&self, url: &reqwest::Url) -> Taken {
        match (url.host_str(), url.port_or_known_default()) {
            (Some(host), Some(port)) => self.dial(host, port).1,
            _ => Taken::default(),
        }
    }

    /// Every route, as `--resolve …` and `--connect-to …` reports name them.
    pub fn shown(&self) -> Vec<String> {
        let connect = self.connect_to.iter().map(|c| format!("--connect-to {c}"));
        connect.chain(self.resolve.iter().map(|r| format!("--resolve {r}"))).collect()
    }
}

impl Resolve {
    fn matches(&self, host: &str, port: u16) -> bool {
        self.port == port && (self.host == "*" || self.host.eq_ignore_ascii_case(host))
    }
}

impl ConnectTo {
    fn matches(&self, host: &str, port: u16) -> bool {
        self.port.is_none_or(|p| p == port) && self.host.as_deref().is_none_or(|h| h.eq_ignore_ascii_case(host))
    }
}

/// An IPv6 address without the brackets a URL puts around it.
fn bare(host: &str) -> &str {
    host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host)
}

/// A host as a route names it, bracketed when it is an IPv6 address.
fn bracketed(host: &str) -> String {
    if host.contains(':') { format!("[{host}]") } else { host.to_string() }
}

/// Splits `text` at the colons outside brackets, so `[::1]:443` is two parts, into `most` parts
/// at most: the last one keeps its colons.
fn parts(text: &str, most: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 && parts.len() + 1 < most => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A host part: a name or an address, IPv6 in brackets; `None` when empty.
fn host_part(part: &str, what: &str) -> Result<Option<String>, String> {
    if part.is_empty() {
        return Ok(None);
    }
    if part.starts_with('[') {
        let inner = bare(part);
        return match inner.parse::<std::net::Ipv6Addr>() {
            Ok(_) if inner.len() + 2 == part.len() => Ok(Some(inner.to_string())),
            _ => Err(format!("{what} `{part}` is not an IPv6 address in brackets, like [::1]")),
        };
    }
    let valid = part.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '*'));
    if !valid {
        return Err(format!("{what} `{part}` is not a host name or address"));
    }
    Ok(Some(part.to_ascii_lowercase()))
}

/// A port part: 1 to 65535; `None` when empty.
fn port_part(part: &str, what: &str) -> Result<Option<u16>, String> {
    if part.is_empty() {
        return Ok(None);
    }
    match part.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(port)),
        _ => Err(format!("{what} `{part}` is not a port from 1 to 65535")),
    }
}

impl std::str::FromStr for Resolve {
    type Err = String;

    /// `HOST:PORT:ADDR[,ADDR]…`, curl's form (its `+` prefix, which only delays the entry's
    /// use, is taken and ignored).
    fn from_str(text: &str) -> Result<Resolve, String> {
        let form = "give it as HOST:PORT:ADDR[,ADDR], like notes.test:443:127.0.0.2";
        let text = text.strip_prefix('+').unwrap_or(text);
        let parts = parts(text, 3);
        let [host, port, addrs] = parts[..] else {
            return Err(format!("`{text}` is not a route: {form}"));
        };
        let host = host_part(host, "the host")?.ok_or_else(|| format!("`{text}` has no host: {form}"))?;
        let port = port_part(port, "the port")?.ok_or_else(|| format!("`{text}` has no port: {form}"))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                bare(a).parse::<IpAddr>().map_err(|_| format!("`{a}` is not an IP address: {form}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolve { host, port, addrs })
    }
}

impl std::str::FromStr for ConnectTo {
    type Err = String;

    /// `HOST:PORT:HOST2:PORT2`, any part but the colons empty.
    fn from_str(text: &str) -> Result<ConnectTo, String> {
        let form = "give it as HOST:PORT:HOST2:PORT2, like notes.test:443:127.0.0.1:8443";
        let parts = parts(text, 5);
        let [host, port, to_host, to_port] = parts[..] else {
            return Err(format!("`{text}` is not a route: {form}"));
        };
        let c = ConnectTo {
            host: host_part(host, "the host")?,
            port: port_part(port, "the port")?,
            to_host: host_part(to_host, "the host to connect to")?,
            to_port: port_part(to_port, "the port to connect to")?,
        };
        if c.to_host.is_none() && c.to_port.is_none() {
            return Err(format!("`{text}` changes nothing: give HOST2, PORT2 or both ({form})"));
        }
        Ok(c)
    }
}

impl fmt::Display for Resolve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs: Vec<String> = self.addrs.iter().map(|ip| bracketed(&ip.to_string())).collect();
        write!(f, "{}:{}:{}", bracketed(&self.host), self.port, addrs.join(","))
    }
}

impl fmt::Display for ConnectTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = |h: &Option<String>| h.as_deref().map(bracketed).unwrap_or_default();
        let port = |p: Option<u16>| p.map(|p| p.to_string()).unwrap_or_default();
        write!(f, "{}:{}:{}:{}", host(&self.host), port(self.port), host(&self.to_host), port(self.to_port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(connect_to: &[&str], resolve: &[&str]) -> Routes {
        Routes {
            connect_to: connect_to.iter().map(|t| t.parse().unwrap()).collect(),
            resolve: resolve.iter().map(|t| t.parse().unwrap()).collect(),
        }
    }

    fn addrs(list: &[&str]) -> Dial {
        Dial::Addrs(list.iter().map(|a| a.parse().unwrap()).collect())
    }

    #[test]
    fn resolve_gives_the_addresses_of_a_name_at_its_port_only() {
        let r = routes(&[], &["notes.test:443:127.0.0.2,[::1]", "*:8080:127.0.0.9"]);
        assert_eq!(r.dial("notes.test", 443).0, addrs(&["127.0.0.2:443", "[::1]:443"]));
        assert_eq!(r.dial("NOTES.test", 443).1.resolve, Some(0));
        assert_eq!(r.dial("notes.test", 80).0, Dial::Name { host: "notes.test".into(), port: 80 });
        assert_eq!(r.dial("other.test", 8080).0, addrs(&["127.0.0.9:8080"]));
        assert_eq!(r.dial("[::1]", 80).0, addrs(&["[::1]:80"]));
        assert_eq!(r.dial("127.0.0.1", 80), (addrs(&["127.0.0.1:80"]), Taken::default()));
    }

    #[test]
    fn connect_to_comes_first_and_resolve_applies_to_where_it_goes() {
        let r = routes(&["notes.test:443:green.test:8443", ":80::8080"], &["green.test:8443:127.0.0.3"]);
        assert_eq!(
            r.dial("notes.test", 443),
            (addrs(&["127.0.0.3:8443"]), Taken { connect_to: Some(0), resolve: Some(0) })
        );
        // An empty HOST matches any host; an empty HOST2 keeps the URL's.
        assert_eq!(r.dial("a.test", 80).0, Dial::Name { host: "a.test".into(), port: 8080 });
        // The first match wins, as curl's does.
        let r = routes(&["notes.test:443:[::1]:1", "notes.test:443:127.0.0.1:2"], &[]);
        assert_eq!(r.dial("notes.test", 443).0, addrs(&["[::1]:1"]));
    }

    #[test]
    fn a_route_behind_an_earlier_match_is_shadowed() {
        let r = routes(&["a.test:80:127.0.0.1:1", "a.test:80:127.0.0.1:2"], &[]);
        let shadowed = r.shadowed(&[("a.test", 80)]).unwrap();
        assert_eq!(
            shadowed,
            ("--connect-to a.test:80:127.0.0.1:2".into(), "--connect-to a.test:80:127.0.0.1:1".into())
        );
        let r = routes(&[], &["h.test:80:127.0.0.1", "H.test:80:127.0.0.2"]);
        assert_eq!(r.shadowed(&[("h.test", 80)]).unwrap().0, "--resolve h.test:80:127.0.0.2");
        assert_eq!(routes(&["a.test:80:b:1"], &["b:1:127.0.0.1"]).shadowed(&[("a.test", 80)]), None);
        // Behind a.test's own route, the catch-all still serves c.test.
        assert_eq!(routes(&["a.test:80:b:1", ":80:b:2"], &[]).shadowed(&[("a.test", 80), ("c.test", 80)]), None);
    }

    #[test]
    fn bad_routes_are_refused_with_the_form_they_take() {
        for (text, says) in [
            ("notes.test:443", "is not a route: give it as HOST:PORT:ADDR"),
            ("notes.test::127.0.0.1", "has no port"),
            (":443:127.0.0.1", "has no host"),
            ("notes.test:99999:127.0.0.1", "`99999` is not a port"),
            ("notes.test:443:localhost", "`localhost` is not an IP address"),
            ("notes.test:443:[::1", "`[::1` is not an IP address"),
            ("no/tes:443:127.0.0.1", "`no/tes` is not a host name"),
        ] {
            let err = text.parse::<Resolve>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        for (text, says) in [
            ("a:1:b", "is not a route: give it as HOST:PORT:HOST2:PORT2"),
            ("a:1::", "changes nothing"),
            ("a:0:b:1", "`0` is not a port"),
            ("[::1:1:b:2", "is not a route"),
            ("[zz]:1:b:2", "`[zz]` is not an IPv6 address"),
        ] {
            let err = text.parse::<ConnectTo>().unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }

    #[test]
    fn routes_are_shown_as_they_are_given() {
        let r = routes(&["notes.test:443:[::1]:8443", "::b.test:"], &["+notes.test:443:127.0.0.2,::1"]);
        assert_eq!(
            r.shown(),
            [
                "--connect-to notes.test:443:[::1]:8443",
                "--connect-to ::b.test:",
                "--resolve notes.test:443:127.0.0.2,[::1]"
            ]
        );
        for shown in r.shown() {
            let text = shown.split_once(' ').unwrap().1;
            assert!(text.parse::<ConnectTo>().is_ok() || text.parse::<Resolve>().is_ok(), "{text}");
        }
    }
}
