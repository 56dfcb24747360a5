//! `BLIP_<FLAG>` variables: every flag of a run (and of `blip demo`) can be set from the
//! environment, and a flag typed on the command line wins over its variable.
//!
//! Most flags are handed to clap's own environment reading. A few exclude others
//! ([`NO_ENV`]): clap would refuse a flag typed on the command line beside them, which is to
//! win, so their variables are read here instead, before clap parses, and honoured only when
//! nothing typed excludes them.

use std::ffi::{OsStr, OsString};

use clap::error::{ContextKind, ContextValue, ErrorKind};

/// The environment variable that stands for `--long`.
pub fn env_name(long: &str) -> String {
    format!("BLIP_{}", long.to_uppercase().replace('-', "_"))
}

/// Flags clap does not read from the environment: `help` and `version` are no settings, and
/// the rest are read by [`with_env_switches`].
const NO_ENV: [&str; 6] = ["help", "version", "measure-only", "data", "data-binary", "fresh-connections"];

/// The flags of [`NO_ENV`] read from their variables here, each with the flags that exclude it
/// beyond clap's own conflicts (`--fresh-connections` is `--connections fresh`).
const READ_HERE: [(&str, &[&str]); 4] =
    [("measure-only", &[]), ("data", &[]), ("data-binary", &[]), ("fresh-connections", &["connections"])];

/// `command` with every flag but those of [`NO_ENV`] also read from its `BLIP_<FLAG>` variable.
pub fn with_env(command: clap::Command) -> clap::Command {
    command.mut_args(|arg| match arg.get_long() {
        // One line in the help says how the names are made; a list would double every flag.
        // An empty variable (an unset input in a CI file) is no value at all, as if unset.
        Some(long) if !NO_ENV.contains(&long) && std::env::var_os(env_name(long)).is_none_or(|v| !v.is_empty()) => {
            let name = env_name(long);
            let switch = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let arg = arg.env(name).hide_env(true);
            // A switch from the environment takes the usual spellings (1, yes, true, on; 0, no,
            // false, off), and refuses any other; an empty one counts as unset (above).
            if switch { arg.value_parser(clap::builder::BoolishValueParser::new()) } else { arg }
        }
        _ => arg,
    })
}

/// A variable's value, unless it is unset or empty.
fn set(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// `args` with the flags of [`READ_HERE`] whose variables are set added as if typed, first
/// after the program (or `demo`), so that clap checks them as it checks the rest. A flag is
/// left out when it, or a flag that excludes it, is typed: the command line wins. A variable
/// that contradicts another variable, or a switch's variable that is no switch value, is
/// refused with one line naming it.
pub fn with_env_switches(args: Vec<OsString>, root: &clap::Command) -> Result<Vec<OsString>, clap::Error> {
    let (command, at) = match args.get(1).and_then(|a| a.to_str()) {
        Some("demo") => match root.find_subcommand("demo") {
            Some(demo) => (demo, 2),
            None => return Ok(args),
        },
        Some(sub) if root.find_subcommand(sub).is_some() => return Ok(args),
        _ => (root, 1),
    };
    let mut added = Vec::new();
    for (long, also_excluded_by) in READ_HERE {
        let variable = env_name(long);
        let Some(value) = set(&variable) else { continue };
        let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(long)) else { continue };
        // clap keeps a conflict on the flag that declares it (`--data-binary` names `--data`).
        let declared_on_others = command
            .get_arguments()
            .filter(|other| command.get_arg_conflicts_with(other).iter().any(|c| c.get_id() == arg.get_id()));
        let excluding: Vec<&str> = command
            .get_arg_conflicts_with(arg)
            .into_iter()
            .chain(declared_on_others)
            .filter_map(|a| a.get_long())
            .chain(also_excluded_by.iter().copied())
            .collect();
        if typed(&args, command, long) || excluding.iter().any(|other| typed(&args, command, other)) {
            continue;
        }
        // Another variable for a flag this one excludes: neither can win, so neither is guessed.
        if let Some(other) = excluding.iter().find(|other| set(&env_name(other)).is_some()) {
            let message = format!(
                "{variable} and {} contradict each other (--{long} cannot be used with --{other}): unset one of them\n",
                env_name(other)
            );
            return Err(clap::Error::raw(ErrorKind::ArgumentConflict, message));
        }
        if matches!(arg.get_action(), clap::ArgAction::SetTrue) {
            match switch_value(&value) {
                Some(true) => added.push(OsString::from(format!("--{long}"))),
                Some(false) => {}
                None => {
                    let shown = crate::sanitize::line(&value.to_string_lossy());
                    let message = format!(
                        "{variable}={shown} is not a switch value: use 1 or 0 (true/false, yes/no, on/off), or unset it\n"
                    );
                    return Err(clap::Error::raw(ErrorKind::InvalidValue, message));
                }
            }
        } else {
            let mut flag = OsString::from(format!("--{long}="));
            flag.push(&value);
            added.push(flag);
        }
    }
    let mut args = args;
    args.splice(at..at, added);
    Ok(args)
}

/// The spellings clap's `BoolishValueParser` takes for the other switches' variables.
fn switch_value(value: &OsStr) -> Option<bool> {
    match value.to_str()?.to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Some(true),
        "n" | "no" | "f" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Whether `--long` (or its short form) is typed in `args` before `--`, where the COMMAND starts.
fn typed(args: &[OsString], command: &clap::Command, long: &str) -> bool {
    let short = command.get_arguments().find(|a| a.get_long() == Some(long)).and_then(|a| a.get_short());
    args.iter().skip(1).take_while(|a| *a != "--").any(|a| {
        let a = a.to_string_lossy();
        a.strip_prefix("--").is_some_and(|rest| rest == long || rest.starts_with(&format!("{long}=")))
            || short.is_some_and(|c| a.starts_with(&format!("-{c}")) && !a.starts_with("--"))
    })
}

/// A bad value that came from a `BLIP_<FLAG>` variable rather than the command line: the error
/// names the variable, which is what the user has to fix (clap names only the flag).
pub fn from_environment(err: clap::Error, args: &[OsString], command: &clap::Command) -> clap::Error {
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else { return err };
    let Some(long) = arg.strip_prefix("--").and_then(|rest| rest.split([' ', '=', '[']).next()) else { return err };
    let variable = env_name(long);
    if typed(args, command, long) || std::env::var_os(&variable).is_none() {
        return err;
    }
    // clap's own lines (the value, why it is bad, the possible values) up to its footer, with
    // the flag's name replaced by the variable's.
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered.lines().take_while(|line| !line.is_empty()).collect();
    let message = lines.join("\n");
    let message = message.trim_start_matches("error: ");
    let message = message.replacen(
        &format!("for '{arg}'"),
        &format!("in {variable} (the variable for --{long}: fix or unset it)"),
        1,
    );
    clap::Error::raw(err.kind(), format!("{message}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_values_are_clap_s_spellings() {
        for yes in ["1", "true", "YES", "on", "y", "t"] {
            assert_eq!(switch_value(OsStr::new(yes)), Some(true), "{yes}");
        }
        for no in ["0", "false", "No", "off", "n", "f"] {
            assert_eq!(switch_value(OsStr::new(no)), Some(false), "{no}");
        }
        assert_eq!(switch_value(OsStr::new("maybe")), None);
    }

    #[test]
    fn typed_stops_at_the_command() {
        let command = crate::cli::command();
        let args: Vec<OsString> = ["blip", "http://a/", "--", "x", "--measure-only"].map(OsString::from).to_vec();
        assert!(!typed(&args, &command, "measure-only"));
        let args: Vec<OsString> = ["blip", "--data=x", "http://a/"].map(OsString::from).to_vec();
        assert!(typed(&args, &command, "data"));
        assert!(!typed(&args, &command, "data-binary"));
    }
}
