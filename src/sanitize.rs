//! The text rules for everything blip shows or writes: no secret from the command line is
//! printed.
//!
//! A URL's password (`http://user:password@host/`) is sent as basic auth but shown as `***`
//! everywhere, because terminals, CI logs and report artifacts are read by more people than the
//! ones who may know it.

use reqwest::Url;

/// What a URL's password is shown as.
pub const HIDDEN: &str = "***";

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
/// part between `scheme://` and the last `@` of the authority is hidden as [`url`] hides it.
pub fn url_text(text: &str) -> String {
    let Some(scheme_end) = text.find("://").map(|i| i + 3) else { return text.to_string() };
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
    }
}
