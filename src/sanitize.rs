//! The text rules for everything blip shows or writes: no secret from the command line is
//! printed, and no text from a server reaches a terminal or a report with its control
//! characters.
//!
//! A URL's password (`http://user:password@host/`) is sent as basic auth but shown as `***`
//! everywhere, because terminals, CI logs and report artifacts are read by more people than the
//! ones who may know it. A server's answer is not blip's to trust: an error body can carry escape
//! sequences that retitle a terminal, clear it or rewrite lines already printed, and bytes that
//! XML does not allow. Every such text goes through [`line()`] or [`text`] before it is shown; the
//! format writers then add their own escaping (Markdown, XML, workflow commands).

use reqwest::Url;

/// What a URL's password is shown as.
pub const HIDDEN: &str = "***";

/// What a character that must not be shown is replaced with: the character Unicode reserves for
/// "something was here that cannot be shown", as lossy UTF-8 decoding uses it.
const REPLACEMENT: char = '\u{FFFD}';

/// `url` as blip shows it: a password becomes `***`. A user name without a password is the only
/// credential in the URL (tokens are often passed so), so it becomes `***` itself.
pub fn url(url: &Url) -> String {
    let mut shown = url.clone();
    // Both setters fail only for URLs that cannot carry credentials, which then have none.
    if url.password().is_some() {
        let _ = shown.set_password(Some(HIDDEN));
    } else if !url.username().is_empty() {
        let _ = shown.set_username(HIDDEN);
    }
    shown.to_string()
}

/// The same rule for a text that is not a valid URL, for the error message that says so: the
/// part between `scheme://` and the last `@` of the authority is hidden as [`url`] hides it. A
/// text without `://` (`alice:pw@host/`, a URL given without its scheme) is taken as starting
/// with its authority.
pub fn url_text(text: &str) -> String {
    let scheme_end = text.find("://").map_or(0, |i| i + 3);
    let rest = &text[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else { return text.to_string() };
    let userinfo = &rest[..at];
    let shown = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{HIDDEN}"),
        None => HIDDEN.to_string(),
    };
    format!("{}{shown}{}", &text[..scheme_end], &rest[at..])
}

/// Whether `c` must never be shown as it is: C0 and C1 control characters and DEL (they drive
/// terminals), the Unicode controls that reorder or separate displayed text, and the two
/// non-characters XML forbids.
fn is_unshowable(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Whether `c` separates words or lines, so it is shown as a space rather than as a mark.
fn is_break(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `text` made safe to show on one line: line breaks and tabs become spaces, every other
/// control character becomes `�`.
pub fn line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if is_break(c) => ' ',
            c if is_unshowable(c) => REPLACEMENT,
            c => c,
        })
        .collect()
}

/// `text` made safe to show over several lines: as [`line()`], but newlines stay. What it returns
/// is also valid XML 1.0 character data.
pub fn text(text: &str) -> String {
    text.split('\n').map(line).collect::<Vec<_>>().join("\n")
}

/// A short name a server gives something (a router's error code), made safe to show and to key
/// counts by: control and other unshowable characters dropped, line breaks and runs of spaces as
/// one space, trimmed, and cut to at most `max` bytes at a character boundary.
pub fn token(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for word in text.split(|c: char| is_break(c) || c == ' ') {
        let word: String = word.chars().filter(|c| !is_unshowable(*c)).collect();
        if word.is_empty() {
            continue;
        }
        let sep = usize::from(!out.is_empty());
        for c in std::iter::repeat_n(' ', sep).chain(word.chars()) {
            if out.len() + c.len_utf8() > max {
                return out.trim_end().to_string();
            }
            out.push(c);
        }
    }
    out
}

/// A value picked from an answer to count by (`--track-header`, `--track-body`): control
/// characters and line breaks removed rather than marked, since the value is a key that two
/// answers must spell alike, surrounding space trimmed, and at most `max_chars` characters kept.
pub fn value(text: &str, max_chars: usize) -> String {
    text.chars()
        .filter(|&c| !is_break(c) && !is_unshowable(c))
        .collect::<String>()
        .trim()
        .chars()
        .take(max_chars)
        .collect()
}

/// Whether `text` is what [`text`] would make of it (for the writers' tests).
#[cfg(test)]
pub fn is_clean(text: &str) -> bool {
    !text.chars().any(|c| c != '\n' && (is_unshowable(c) || is_break(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        url(&Url::parse(text).unwrap())
    }

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(shown("http://alice:hunter2pw@127.0.0.1:8080/a?b=c"), "http://alice:***@127.0.0.1:8080/a?b=c");
        assert_eq!(shown("https://tok3n@example.com/"), "https://***@example.com/");
        assert_eq!(shown("https://example.com/health"), "https://example.com/health");
        // A password that is only percent-encoded is hidden as well.
        assert_eq!(shown("http://a:%70w%40x@h/"), "http://a:***@h/");
    }

    #[test]
    fn url_texts_that_do_not_parse_are_hidden_the_same_way() {
        assert_eq!(url_text("http://alice:hunter2pw@/"), "http://alice:***@/");
        assert_eq!(url_text("http://tok3n@:99999/x@y"), "http://***@:99999/x@y");
        assert_eq!(url_text("http://a:b@c@host/"), "http://a:***@host/");
        assert_eq!(url_text("notaurl"), "notaurl");
        assert_eq!(url_text("http://host/path@x"), "http://host/path@x");
        assert_eq!(url_text("alice:SECRETX@127.0.0.1/"), "alice:***@127.0.0.1/");
        assert_eq!(url_text("localhost:8080/api"), "localhost:8080/api");
    }

    #[test]
    fn control_characters_never_pass() {
        let hostile = "503\x1b]0;pwned\x07 down\x1b[2J\rover\x08written\u{9b}31m\u{202e}txt\tend\nnext\u{7f}";
        let one = line(hostile);
        assert_eq!(one, "503�]0;pwned� down�[2J over�written�31m�txt end next�");
        assert!(is_clean(&one));
        let many = text(hostile);
        assert_eq!(many.lines().count(), 2);
        assert!(is_clean(&many) && !is_clean(hostile));
        assert_eq!(line("404 Not Found: ünïcode ✓"), "404 Not Found: ünïcode ✓");
    }

    #[test]
    fn tokens_drop_control_characters_and_stay_short() {
        assert_eq!(token("unknown_route", 48), "unknown_route");
        assert_eq!(token(" \x1b[2Junknown\x07_route\r\n  x ", 48), "[2Junknown_route x");
        assert_eq!(token(&"é".repeat(40), 9), "éééé");
        assert_eq!(token("\u{202e}\x00", 48), "");
    }

    #[test]
    fn tracked_values_lose_control_characters_and_length() {
        assert_eq!(value(" v2\x1b[2J\r\n ", 16), "v2[2J");
        assert_eq!(value(&"x".repeat(500), 128).len(), 128);
        assert_eq!(value("ünï\u{202e}", 2), "ün");
    }
}
