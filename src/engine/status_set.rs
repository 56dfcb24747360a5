//! Sets of HTTP status codes as users write them: `200`, `200,204`, `2xx`, `200-299`, `5xx,429`.

use std::fmt;
use std::str::FromStr;

/// A set of status codes from 100 to 999, kept as a bitset so membership is one lookup.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusSet {
    bits: [u64; 16],
    /// The text it was parsed from, normalised, for messages and reports.
    text: String,
}

/// Why a status set did not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{input}` is not a status set like 200, 200,204, 2xx or 200-299: {reason}")]
pub struct StatusSetError {
    input: String,
    reason: String,
}

impl StatusSet {
    pub fn contains(&self, code: u16) -> bool {
        let code = usize::from(code);
        code < 1024 && self.bits[code / 64] & (1 << (code % 64)) != 0
    }

    fn insert_range(&mut self, low: u16, high: u16) {
        for code in low..=high {
            let code = usize::from(code);
            self.bits[code / 64] |= 1 << (code % 64);
        }
    }
}

impl FromStr for StatusSet {
    type Err = StatusSetError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| StatusSetError { input: input.to_string(), reason };
        let mut set = StatusSet { bits: [0; 16], text: String::new() };
        let mut parts = Vec::new();
        for part in input.split(',') {
            let part = part.trim().to_ascii_lowercase();
            if part.is_empty() {
                return Err(fail("an empty item".into()));
            }
            let (low, high) = if let Some(class) = part.strip_suffix("xx") {
                let digit = match class.as_bytes() {
                    [d @ b'1'..=b'9'] => u16::from(d - b'0'),
                    _ => return Err(fail(format!("`{part}` is not a class from 1xx to 9xx"))),
                };
                (digit * 100, digit * 100 + 99)
            } else if let Some((low, high)) = part.split_once('-') {
                let (low, high) = (parse_code(low.trim()), parse_code(high.trim()));
                match (low, high) {
                    (Some(low), Some(high)) if low <= high => (low, high),
                    _ => return Err(fail(format!("`{part}` is not a range of codes like 200-299"))),
                }
            } else {
                match parse_code(&part) {
                    Some(code) => (code, code),
                    None => return Err(fail(format!("`{part}` is not a code from 100 to 999"))),
                }
            };
            set.insert_range(low, high);
            parts.push(part);
        }
        set.text = parts.join(",");
        Ok(set)
    }
}

fn parse_code(text: &str) -> Option<u16> {
    let code: u16 = text.parse().ok()?;
    (100..=999).contains(&code).then_some(code)
}

impl fmt::Display for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusSet({})", self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> StatusSet {
        text.parse().unwrap()
    }

    #[test]
    fn classes_codes_and_ranges() {
        let s = set("2xx,3xx");
        assert!(s.contains(200) && s.contains(299) && s.contains(301) && s.contains(399));
        assert!(!s.contains(199) && !s.contains(400) && !s.contains(404));
        let s = set("200, 204");
        assert!(s.contains(200) && s.contains(204) && !s.contains(201));
        let s = set("200-202");
        assert!(s.contains(200) && s.contains(202) && !s.contains(203));
        assert!(set("5XX").contains(503));
        assert_eq!(set("404, 5XX").to_string(), "404,5xx");
    }

    #[test]
    fn refuses_what_is_not_a_status() {
        for bad in ["", "2x", "abc", "99", "1000", "300-200", "200,", "0xx", "2xxx", "200-"] {
            assert!(bad.parse::<StatusSet>().is_err(), "{bad} should be refused");
        }
        let err = "20".parse::<StatusSet>().unwrap_err().to_string();
        assert!(err.contains("`20`"), "{err}");
    }
}
