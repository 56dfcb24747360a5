//! `--track-header` and `--track-body`: which values of each answer blip counts by, to tell who
//! answered (an app version, an instance id) and when that changed.
//!
//! Values come from the server and are not trusted: each is cleaned of control characters and
//! bounded in length ([`VALUE_MAX`]) here, before anything counts or shows it.

use reqwest::header::{HeaderMap, HeaderName};

/// Longest value kept, in characters; longer values are cut there.
pub const VALUE_MAX: usize = 128;

/// What to pick from each answer. Empty unless a `--track-*` flag (or `blip demo`) asks.
#[derive(Clone, Debug, Default)]
pub struct Track {
    /// `--track-header` names, in the order given.
    pub headers: Vec<HeaderName>,
    /// `--track-body`: its first capture group, searched in the kept start of the body.
    pub body: Option<regex::bytes::Regex>,
}

impl Track {
    /// Parses the flags' values; the error is the one line that names the flag.
    pub fn new(headers: &[String], body: Option<&str>) -> Result<Track, String> {
        let headers = headers
            .iter()
            .map(|name| {
                HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                    format!("--track-header `{}` is not a header name (give one like X-App-Version)", shown(name))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        // Header names are case-insensitive: one given twice is tracked once.
        let mut headers = headers;
        let mut seen = std::collections::HashSet::new();
        headers.retain(|name| seen.insert(name.clone()));
        let body = match body {
            None => None,
            Some(pattern) => {
                let regex = regex::bytes::Regex::new(pattern).map_err(|e| {
                    let why = e.to_string().lines().last().unwrap_or_default().trim().to_string();
                    format!(
                        "--track-body `{}` is not a regular expression: {}",
                        shown(pattern),
                        crate::sanitize::line(&why)
                    )
                })?;
                if regex.captures_len() < 2 {
                    return Err(format!(
                        "--track-body `{}` has no capture group: put the value to track in parentheses, as in 'version: ([0-9.]+)'",
                        shown(pattern)
                    ));
                }
                Some(regex)
            }
        };
        Ok(Track { headers, body })
    }

    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.body.is_none()
    }

    /// What each tracked value is called in reports: `header X-App-Version`, `body <regex>`.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.headers.iter().map(|h| format!("header {h}")).collect();
        names.extend(self.body.iter().map(|r| format!("body {}", shown(r.as_str()))));
        names
    }

    /// The values one answer carries, one per name in [`Track::names`] order. Allocates only
    /// when something is tracked.
    pub fn extract(&self, headers: &HeaderMap, body: &[u8]) -> Vec<Option<String>> {
        if self.is_empty() {
            return Vec::new();
        }
        let mut values: Vec<Option<String>> = self
            .headers
            .iter()
            .map(|name| headers.get(name).map(|v| clean(v.as_bytes())).filter(|v| !v.is_empty()))
            .collect();
        if let Some(regex) = &self.body {
            let found = regex.captures(body).and_then(|c| c.get(1)).map(|m| clean(m.as_bytes()));
            values.push(found.filter(|v| !v.is_empty()));
        }
        values
    }
}

fn clean(raw: &[u8]) -> String {
    crate::sanitize::value(&String::from_utf8_lossy(raw), VALUE_MAX)
}

/// A flag's value as an error message shows it.
fn shown(text: &str) -> String {
    crate::sanitize::line(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_header_and_body_values_clean_and_bounded() {
        let track = Track::new(&["X-App-Version".into()], Some(r#""version":\s*"([^"]*)""#)).unwrap();
        assert_eq!(track.names(), ["header x-app-version", r#"body "version":\s*"([^"]*)""#]);
        let mut headers = HeaderMap::new();
        headers.insert("x-app-version", "v2".parse().unwrap());
        assert_eq!(
            track.extract(&headers, br#"{"version": "1.4\u001b[2J"}"#),
            [Some("v2".to_string()), Some("1.4\\u001b[2J".to_string())]
        );
        let long = format!(r#"{{"version": "{}"}}"#, "9".repeat(1000));
        let values = track.extract(&HeaderMap::new(), long.as_bytes());
        assert_eq!(values[0], None);
        assert_eq!(values[1].as_ref().map(String::len), Some(VALUE_MAX));
        assert!(Track::default().extract(&headers, b"").is_empty());
    }

    #[test]
    fn bad_flags_are_named() {
        assert!(Track::new(&[], Some("(")).unwrap_err().starts_with("--track-body `(` is not a regular expression"));
        assert!(Track::new(&[], Some("v[0-9]+")).unwrap_err().contains("no capture group"));
        assert!(Track::new(&["bad header".into()], None).unwrap_err().starts_with("--track-header `bad header`"));
    }
}
