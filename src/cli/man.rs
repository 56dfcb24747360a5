//! `blip man`: the man page (roff), made from the same definition as `--help`, in man-pages(7)
//! order: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, SUBCOMMANDS, EXIT STATUS, ENVIRONMENT, EXAMPLES.

use std::io::Write;

use crate::exit::Exit;

/// Variables blip reads besides `BLIP_<FLAG>`, and what each does.
const ENVIRONMENT: [(&str, &str); 4] = [
    ("NO_COLOR", "Set and not empty: no colour with --color auto (--color always still colours)."),
    (
        "GITHUB_ACTIONS",
        "true: an annotation for each failed gate and for a failed COMMAND, and colour with --color auto.",
    ),
    ("GITHUB_STEP_SUMMARY", "A path: the Markdown summary is appended to it (GitHub's job summary)."),
    (
        "BLIP_EVENT, BLIP_URL, BLIP_CONNECTION, BLIP_CAUSE, BLIP_START, BLIP_START_OFFSET_MS, BLIP_DURATION_MS",
        "Set by blip for the commands of --on-down and --on-up: the window that opened or closed.",
    ),
];

/// Writes blip's man page. Its subcommands are described on the page itself rather than referred
/// to pages of their own (`blip-demo(1)`), which no install provides; `blip demo --help` lists
/// the demo's flags.
pub fn write_man_page(w: &mut dyn Write) -> std::io::Result<()> {
    let command = super::command();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(w)?;
    man.render_name_section(w)?;
    synopsis(w, &command)?;
    man.render_description_section(w)?;
    man.render_options_section(w)?;
    writeln!(w, ".SH SUBCOMMANDS")?;
    for sub in subcommands(&command) {
        writeln!(w, ".TP\n\\fBblip {}\\fR{}", sub.get_name(), roff_escape(&positionals(sub)))?;
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let flagged = sub.get_arguments().any(|a| a.get_long().is_some_and(|l| l != "help"));
        let more = if flagged { format!(". Its flags: blip {} --help", sub.get_name()) } else { String::new() };
        writeln!(w, "{}", roff_escape(&format!("{about}{more}")))?;
    }
    writeln!(w, ".SH \"EXIT STATUS\"")?;
    for exit in Exit::ALL {
        writeln!(w, ".TP\n\\fB{}\\fR\n{}", exit.code(), roff_escape(exit.meaning()))?;
    }
    writeln!(w, ".SH ENVIRONMENT")?;
    writeln!(
        w,
        ".TP\n\\fBBLIP_<FLAG>\\fR\n{}",
        roff_escape(
            "Every flag of a run and of blip demo, by its long name in capitals with _ for - \
             (BLIP_MAX_DOWNTIME=0s, BLIP_FAIL_FAST=true); the command line wins, and an empty variable counts as unset."
        )
    )?;
    for (name, what) in ENVIRONMENT {
        writeln!(w, ".TP\n\\fB{}\\fR\n{}", roff_escape(name), roff_escape(what))?;
    }
    // GITHUB_ACTIONS has its own entry above.
    let ci: Vec<&str> = crate::config::COLOR_CI.into_iter().filter(|name| *name != "GITHUB_ACTIONS").collect();
    let ci = ci.join(", ");
    writeln!(
        w,
        ".TP\n\\fB{}\\fR\n{}",
        roff_escape(&ci),
        roff_escape("Set: colour with --color auto, as on a terminal.")
    )?;
    // As written in `--help` (clap_mangen would refill the example lines).
    writeln!(w, ".SH EXAMPLES\n.nf")?;
    for line in super::EXAMPLES.lines() {
        writeln!(w, "{}", roff_escape(line))?;
    }
    writeln!(w, ".fi")?;
    man.render_version_section(w)
}

/// The subcommands a user types (not `help`, not hidden ones).
fn subcommands(command: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help")
}

/// A synopsis that shows what each flag takes (`--rate N`), then one line per subcommand.
fn synopsis(w: &mut dyn Write, command: &clap::Command) -> std::io::Result<()> {
    let flags: Vec<String> = command
        .get_arguments()
        .filter(|a| !a.is_positional() && !a.is_hide_set())
        .filter_map(|a| {
            let long = a.get_long()?;
            let short = a.get_short().map_or_else(String::new, |c| format!("\\fB\\-{c}\\fR|"));
            let value = a
                .get_value_names()
                .and_then(|n| n.first())
                .filter(|_| a.get_action().takes_values())
                .map_or_else(String::new, |v| format!(" \\fI{}\\fR", roff_escape(v)));
            Some(format!("[{short}\\fB\\-\\-{}\\fR{value}]", roff_escape(long)))
        })
        .collect();
    writeln!(w, ".SH SYNOPSIS")?;
    writeln!(w, "\\fBblip\\fR {} \\fIURL\\fR... [\\fB\\-\\-\\fR \\fICOMMAND\\fR...]", flags.join(" "))?;
    for sub in subcommands(command) {
        let flagged = sub.get_arguments().any(|a| a.get_long().is_some_and(|l| l != "help"));
        let options = if flagged { " [\\fIOPTIONS\\fR]" } else { "" };
        writeln!(w, ".br\n\\fBblip {}\\fR{options}{}", sub.get_name(), roff_escape(&positionals(sub)))?;
    }
    Ok(())
}

/// A subcommand's positional arguments as a synopsis shows them: ` <REPORT>...`.
fn positionals(sub: &clap::Command) -> String {
    sub.get_positionals()
        .map(|a| {
            let name = a
                .get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| a.get_id().as_str().to_uppercase(), std::string::ToString::to_string);
            let many = a.get_num_args().is_some_and(|n| n.max_values() > 1);
            format!(" <{name}>{}", if many { "..." } else { "" })
        })
        .collect()
}

/// Text made safe for a roff line: backslashes and hyphens escaped, no line starting a request.
fn roff_escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) { format!("\\&{escaped}") } else { escaped }
}
