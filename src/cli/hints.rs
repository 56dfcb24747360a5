//! What blip says for a flag it does not know: clap's nearest flag, or for the flags curl and
//! oha users reach for, what blip calls them; never clap's tip to put the flag after `--`, where
//! blip's COMMAND starts.

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The error for a flag a subcommand does not know: the flag, and where its flags are listed.
pub(super) fn unknown_flag_of(err: clap::Error, sub: &str) -> clap::Error {
    let Some(ContextValue::String(flag)) = err.get(ContextKind::InvalidArg) else { return err };
    let name = flag.split_once('=').map_or(flag.as_str(), |(name, _)| name).to_string();
    let hint = match err.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => format!("did you mean `{s}`?"),
        _ => format!("`blip {sub} --help` lists its flags"),
    };
    clap::Error::raw(ErrorKind::UnknownArgument, format!("unexpected argument `{name}` for blip {sub}: {hint}\n"))
}

/// Flags that curl and oha users reach for, and what blip says instead. A row wins over clap's
/// nearest flag, which for these is a wrong guess (`--max-time` is not `--max-downtime`).
const HABITS: [(&[&str], &str); 8] = [
    (&["-q"], "did you mean -r/--rate? (probes per second; oha calls it -q)"),
    (&["-z"], "did you mean -d/--duration? (how long to probe; oha calls it -z)"),
    (&["-n"], "blip probes for a time, not a count: did you mean -d/--duration?"),
    (&["-s", "--silent"], "did you mean `--ui quiet`? (blip prints nothing of its own; curl calls it -s/--silent)"),
    (
        &["-o", "--output"],
        "did you mean `--json PATH`? (blip writes its report, not the body; curl's -o writes the body)",
    ),
    (
        &["-L", "--location"],
        "blip judges redirects instead of following them: a 3xx counts as up unless --expect-status says \
         otherwise (--expect-status 2xx)",
    ),
    (&["-m", "--max-time"], "did you mean -t/--timeout? (the deadline of each probe; curl calls it -m/--max-time)"),
    (&["-I", "--head"], "did you mean `-X HEAD`? (the method of each probe; curl's -I/--head sends a HEAD)"),
];

/// The error for an unknown flag: the flag, then what it most likely meant.
pub(super) fn unknown_flag(err: clap::Error, command: &mut clap::Command) -> clap::Error {
    let Some(ContextValue::String(flag)) = err.get(ContextKind::InvalidArg) else { return err };
    let flag = flag.clone();
    let name = flag.split_once('=').map_or(flag.as_str(), |(name, _)| name);
    let suggested = match err.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(s)) => s.first().cloned(),
        _ => None,
    };
    let habit = HABITS.iter().find(|(flags, _)| flags.contains(&name)).map(|(_, hint)| (*hint).to_string());
    let hint = match (habit, suggested) {
        (Some(hint), _) => hint,
        (None, Some(suggested)) => format!("did you mean `{suggested}`?"),
        (None, None) => format!(
            "if it belongs to the COMMAND, put it after `--`, which starts the COMMAND: blip URL -- COMMAND {name}"
        ),
    };
    clap::Error::raw(ErrorKind::UnknownArgument, format!("unexpected argument `{name}`: {hint}")).format(command)
}
