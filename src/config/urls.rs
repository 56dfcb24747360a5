//! The URLs of a run: parsed with the hints a curl user needs (`http//host`, a COMMAND given
//! without `--`), credentials added, and the `--connect-to` and `--resolve` routes each checked
//! against them.

use reqwest::Url;

use super::{ConfigError, bad};
use crate::cli::ProbeArgs;
use crate::engine::route::{Routes, Taken};

/// Parses one URL. `after_first`: a URL after the first, where a COMMAND given without `--`
/// lands.
/// `--connect-to` and `--resolve`, each of which must apply to a URL of the run: one that
/// applies to none is a typo, most often a default port left out.
pub(super) fn routes(probe: &ProbeArgs, urls: &[Url]) -> Result<Routes, ConfigError> {
    let routes = Routes { connect_to: probe.connect_to.clone(), resolve: probe.resolve.clone() };
    let hosts: Vec<(&str, u16)> =
        urls.iter().filter_map(|url| Some((url.host_str()?, url.port_or_known_default()?))).collect();
    if let Some((later, first)) = routes.shadowed(&hosts) {
        return Err(bad(format!(
            "{later} is never used: {first}, given before it, applies to the same host and port (the first match wins)"
        )));
    }
    let taken: Vec<Taken> = urls.iter().map(|url| routes.taken_by(url)).collect();
    let unused = |flag: &str, shown: String| {
        let example = urls.first().map_or(String::new(), |url| {
            let host = url.host_str().unwrap_or_default();
            let port = url.port_or_known_default().unwrap_or_default();
            format!(" ({} is {host}:{port})", crate::sanitize::url(url))
        });
        bad(format!(
            "{flag} {shown} applies to none of the URLs: it matches a URL's host and port, the default port too{example}"
        ))
    };
    for (i, c) in routes.connect_to.iter().enumerate() {
        if !taken.iter().any(|t| t.connect_to == Some(i)) {
            return Err(unused("--connect-to", c.to_string()));
        }
    }
    for (i, r) in routes.resolve.iter().enumerate() {
        if !taken.iter().any(|t| t.resolve == Some(i)) {
            return Err(unused("--resolve", r.to_string()));
        }
    }
    Ok(routes)
}

pub(super) fn parse_url(text: &str, after_first: bool) -> Result<Url, ConfigError> {
    // The message repeats the input, so a password in it is hidden there too.
    let shown = crate::sanitize::line(&crate::sanitize::url_text(text));
    if !text.contains("://") && names_a_program(text) {
        return Err(bad(if after_first {
            format!(
                "`{shown}` is not a URL but a file or command: to wrap it as the deploy COMMAND, put `--` before it \
                 (blip URL -- {shown} ...)"
            )
        } else {
            format!(
                "`{shown}` is not a URL but a file or command: URLs come first, then `--` and the COMMAND (blip URL -- {shown} ...)"
            )
        }));
    }
    // `http//host`, a colon short: the scheme is there, the `:` is not.
    if let Some((scheme, rest)) =
        ["https", "http"].iter().find_map(|scheme| Some((scheme, text.strip_prefix(scheme)?.strip_prefix("//")?)))
    {
        let suggested = crate::sanitize::line(&crate::sanitize::url_text(&format!("{scheme}://{rest}")));
        return Err(bad(format!("`{shown}` misses the `:` after {scheme}: did you mean `{suggested}`?")));
    }
    // A bare word after a URL (`blip URL cf push`, `cf` not installed here) is more likely the
    // COMMAND given without `--` than a host without a scheme: no dot, port or path.
    if after_first && !text.contains(['.', ':', '/']) && text != "localhost" {
        return Err(bad(format!(
            "`{shown}` is not a URL: to wrap it as the deploy COMMAND, put `--` before it (blip URL -- {shown} ...); \
             a host needs a scheme (http://{shown})"
        )));
    }
    let url = Url::parse(text);
    // `localhost:8080/api` parses with the scheme `localhost`; `host/path` does not parse.
    let with_http = format!("http://{text}");
    if !text.contains("://")
        && !url.as_ref().is_ok_and(|url| ["http", "https"].contains(&url.scheme()))
        && Url::parse(&with_http).is_ok_and(|url| url.host_str().is_some_and(|h| !h.is_empty()))
    {
        let suggested = crate::sanitize::line(&crate::sanitize::url_text(&with_http));
        let shown = suggested.trim_start_matches("http://");
        return Err(bad(format!("`{shown}` has no scheme: did you mean `{suggested}`?")));
    }
    let url = url.map_err(|e| bad(format!("`{shown}` is not a URL ({e}); give one like https://host/path")))?;
    match url.scheme() {
        "http" | "https" => {}
        other => {
            return Err(bad(format!("`{shown}` has scheme `{other}`; blip probes http:// and https:// URLs")));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad(format!("`{shown}` has no host")));
    }
    Ok(url)
}

/// Whether `text` names a file (existing, or written as a path: `./deploy.sh`) or a program on
/// `PATH`: a COMMAND typed without `--`.
pub(super) fn names_a_program(text: &str) -> bool {
    ["./", "../", "/", "~/"].iter().any(|p| text.starts_with(p))
        || std::path::Path::new(text).exists()
        || which::which(text).is_ok()
}

/// `-u USER:PASS` on every URL, where the probes send it as basic auth and every output hides
/// the password as it hides one written in the URL. No message repeats the value.
pub(super) fn add_credentials(urls: &mut [Url], user: &str) -> Result<(), ConfigError> {
    let Some((name, password)) = user.split_once(':') else {
        return Err(bad("--user needs USER:PASS, with a `:` (blip does not ask for a password)"));
    };
    // Given as typed, as curl sends them: a `%` is a percent sign, not the start of an escape,
    // and a `:` in the user name is not the start of the password.
    use percent_encoding::{CONTROLS, utf8_percent_encode};
    const USERINFO: &percent_encoding::AsciiSet = &CONTROLS.add(b'%').add(b':').add(b'@').add(b'/').add(b'#').add(b'?');
    let (name, password) =
        (utf8_percent_encode(name, USERINFO).to_string(), utf8_percent_encode(password, USERINFO).to_string());
    for url in urls {
        // Only URLs without a host refuse credentials, and parse_url has refused those.
        if url.set_username(&name).is_err() || url.set_password(Some(&password)).is_err() {
            return Err(bad("--user cannot be set on a URL without a host"));
        }
    }
    Ok(())
}
