//! `blip completions SHELL`: clap_complete's scripts, with one repair to the fish script.
//!
//! clap_complete's fish script guards every top-level candidate with a function that parses the
//! line typed so far with fish's `argparse`; while a flag still waits for its value
//! (`blip --ui <TAB>`), that parse fails and the guard turns every candidate off, so fish falls
//! back to file names. A line that does not parse yet has no subcommand either (blip's URLs and
//! its subcommands exclude each other), so the guard is made to say so.

use clap_complete::Shell;

/// The lines of clap_complete's fish guard that end it when the line does not parse.
const FISH_GUARD: &str = "    argparse -s (__fish_blip_global_optspecs) -- $cmd 2>/dev/null\n    or return\n";
/// The same guard, which lets a line that does not parse yet complete at the top level.
const FISH_GUARD_REPAIRED: &str = "    argparse -s (__fish_blip_global_optspecs) -- $cmd 2>/dev/null\n    \
    # A flag still waiting for its value: no subcommand yet, and the flag's values are offered.\n    \
    or return 0\n";

/// The completion script for `shell`, written whole in memory (clap_complete panics when its
/// writer fails, so the caller writes it and reports the error).
pub fn script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::command(), "blip", &mut script);
    if shell == Shell::Fish {
        let text = String::from_utf8_lossy(&script).replacen(FISH_GUARD, FISH_GUARD_REPAIRED, 1);
        return text.into_bytes();
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fish_guard_is_found_and_repaired() {
        // When clap_complete changes its script, this fails rather than the repair going unseen.
        let fish = String::from_utf8(script(Shell::Fish)).unwrap();
        assert!(fish.contains(FISH_GUARD_REPAIRED) && !fish.contains(FISH_GUARD), "{fish}");
    }
}
