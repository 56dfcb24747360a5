//! The end of a run: the recorder's books closed at the schedule's end, the Report built from
//! them and from what the run knew of itself (the deploy, its warnings, the hooks, the stop:
//! [`RunFacts`]), the summary shown and every report written.

use std::time::Instant;

use super::Run;
use crate::app::{Finished, output, stage};
use crate::report::{RunFacts, build};

impl Run<'_> {
    /// What the run knew of itself, for its report: the deploy, the hooks, the stop, and the
    /// settings the report records.
    fn facts(&mut self) -> RunFacts {
        let deploy = self.deploy.take().map(|d| stage::deploy_report(&self.clock, d, self.stopped_by_gate));
        let short = deploy
            .as_ref()
            .zip(self.config.wrap.as_ref())
            .and_then(|(deploy, wrap)| crate::report::warnings::short_deploy_warning(deploy, wrap.min_deploy));
        let (hooks, hooks_run, hooks_skipped) = self.hooks.take_report();
        RunFacts {
            vantage: self.config.output.vantage.clone(),
            run_id: self.config.run_id.clone(),
            default_gates: self.config.gates.default_added(),
            measure_only: self.config.measure_only,
            allow_missed: self.config.allow_missed,
            routes: self.config.request.routes.shown(),
            stop_reason: self.stop_reason.take(),
            deploy,
            hooks,
            hooks_run,
            hooks_skipped,
            warnings: short.into_iter().collect(),
        }
    }

    /// Closes the books and writes every report.
    pub async fn finish(mut self, signals: &mut crate::app::signals::Signals) -> anyhow::Result<Finished> {
        let end = self.end_tx.borrow().unwrap_or_else(Instant::now);
        let last = self.recorder.close(end);
        // Hooks are over by now (the run has ended); every other consumer still hears of these.
        for event in &last {
            self.announce(event);
        }
        if let Some(dropped) = self.deploy.as_ref().and_then(|d| d.relay.as_ref()).map(|r| r.dropped())
            && dropped > 0
        {
            self.ui.notice(&format!(
                "{dropped} lines of the command's output were not shown: it printed faster than they could be"
            ));
        }
        let facts = self.facts();
        let report = build::report(&self.recorder, end, &self.config.gates, facts);
        // A summary that could not be written is blip's output lost, as a report is: exit 2. A
        // closed stdout is not: its reader chose to stop (`blip … | head`).
        let shown = match self.ui.finished(&report) {
            Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(anyhow::Error::new(err).context("cannot write blip's output"))
            }
            _ => Ok(()),
        };
        let written = output::write_reports_or_stop(&report, self.config, signals).await;
        // An event log that could not be written is a report lost, as a --json one is: exit 2.
        let logged = match self.events.as_mut() {
            Some(events) => {
                let failed = written.is_err() || shown.is_err() || events.failed();
                events.finish(&report, report.exit(failed).code())
            }
            None => Ok(()),
        };
        written?;
        logged?;
        shown?;
        Ok(Finished { report })
    }
}
