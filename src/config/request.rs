//! What every probe sends besides its URL: the body (`--data`, `--data-binary`, read from a
//! file or stdin as curl reads it) and the extra headers (`-H`).

use reqwest::header::{CONNECTION, CONTENT_LENGTH, HeaderMap, HeaderName, HeaderValue, TRANSFER_ENCODING};

use super::{ConfigError, bad};
use crate::cli::ProbeArgs;

/// The request body: `--data` or `--data-binary`, read from a file (`@FILE`) or stdin (`@-`)
/// when it starts with `@`, as curl reads them. `--data` drops line breaks from what it reads.
pub(super) fn read_body(probe: &ProbeArgs) -> Result<Option<bytes::Bytes>, ConfigError> {
    let (flag, value, binary) = match (&probe.data, &probe.data_binary) {
        (Some(data), _) => ("--data", data, false),
        (None, Some(data)) => ("--data-binary", data, true),
        (None, None) => return Ok(None),
    };
    let Some(source) = value.strip_prefix('@') else { return Ok(Some(value.clone().into())) };
    let read = match source {
        "-" => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
        }
        "" => return Err(bad(format!("{flag} @ needs a file name after the @ (or @- for stdin)"))),
        path => std::fs::read(path),
    };
    let mut bytes = read.map_err(|e| {
        let what = if source == "-" { "stdin".to_string() } else { format!("`{}`", crate::sanitize::line(source)) };
        bad(format!("{flag} @{}: cannot read {what}: {e}", crate::sanitize::line(source)))
    })?;
    if !binary {
        bytes.retain(|&b| b != b'\r' && b != b'\n');
    }
    Ok(Some(bytes.into()))
}

/// Parses `-H 'Name: value'` lines. A header's value is often a credential, so no message
/// repeats it: a bad header is named by its name, or by its place among the `--header` flags.
pub(super) fn parse_headers(lines: &[String]) -> Result<HeaderMap, ConfigError> {
    let mut headers = HeaderMap::new();
    for (i, line) in lines.iter().enumerate() {
        let place = i + 1;
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("--header #{place} has no `:`; give it as 'Name: value' (fix --header)")))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            bad(format!("--header #{place} has no valid header name before its `:`; give it as 'Name: value'"))
        })?;
        // blip frames each request itself; a second length or encoding would make the server
        // wait for a body that never comes (every probe a timeout) or read the next request as one.
        if [CONTENT_LENGTH, TRANSFER_ENCODING, CONNECTION].contains(&name) {
            return Err(bad(format!(
                "`{name}` is set by blip for each request and cannot be given: remove it from --header"
            )));
        }
        let value = HeaderValue::from_str(value.trim()).map_err(|_| {
            bad(format!(
                "the value of header `{name}` (--header #{place}) has a control character or a line break: fix --header"
            ))
        })?;
        headers.append(name, value);
    }
    Ok(headers)
}
