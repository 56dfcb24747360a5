//! The state of one run and what each arm of the run loop does to it: samples into the
//! recorder and the live consumers, ticks, stop requests, the wrapped command's start, output and
//! exit; closing the books at the end is finish.rs's.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::signals::Signal;
use tokio::sync::watch;

use super::command::{Channels, Exited, OutputLine, RunningCommand, Termination};
use super::hooks::{HookMessage, HookSenders, Hooks};
use super::stage::{DeployLog, Stage};
use crate::analysis::clock::RunClock;
use crate::analysis::phase::Phase;
use crate::analysis::recorder::Recorder;
use crate::config::{Config, UiMode};
use crate::engine::sample::Sample;
use crate::gates::Gates;
use crate::live::events::EventLog;
use crate::live::gates::GateLive;
use crate::live::metrics::Metrics;
use crate::live::{self, RunInfo, Ui};
use crate::units::secs;

mod finish;

/// How long a signalled command has to exit before it is killed.
pub const KILL_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The live consumers that run beside the UI, each optional.
pub struct Beside {
    /// `--events`: the NDJSON log.
    pub events: Option<EventLog>,
    /// `--metrics`: the Prometheus metrics.
    pub metrics: Option<Metrics>,
}

/// The state of one run, owned by the run loop: everything the select arms act on.
pub struct Run<'a> {
    pub config: &'a Config,
    pub program: PathBuf,
    pub clock: RunClock,
    pub urls: Vec<String>,
    pub ui: Box<dyn Ui>,
    pub events: Option<EventLog>,
    pub recorder: Recorder,
    /// The end of the schedule, which the scheduler watches.
    pub end_tx: watch::Sender<Option<Instant>>,
    pub stage: Stage,
    pub deploy: Option<DeployLog>,
    pub stopping: bool,
    /// A second stop request came while blip waited for probes in flight: stop waiting.
    pub cancelled: bool,
    /// A command that blip stopped because a gate failed did not fail on its own.
    pub stopped_by_gate: bool,
    /// Why the run was stopped before its end, for the report: the first stop request.
    pub stop_reason: Option<String>,
    /// The gates' state for the live views, judged again each second and on each state change.
    gate_states: Vec<Vec<GateLive>>,
    gates_judged_at: Option<u64>,
    pub hooks: Hooks,
    /// `--metrics`: fed as the recorder is.
    pub metrics: Option<Metrics>,
}

impl<'a> Run<'a> {
    pub fn new(
        config: &'a Config,
        program: Option<&Path>,
        mut ui: Box<dyn Ui>,
        beside: Beside,
        clock: RunClock,
        end_tx: watch::Sender<Option<Instant>>,
        hook_tx: HookSenders,
    ) -> Run<'a> {
        let Beside { mut events, metrics } = beside;
        // Every output names a target by its label: the URL, and its lane when that tells.
        let targets = config.targets();
        let urls: Vec<String> = targets.iter().map(|t| t.label.clone()).collect();
        let hooks = Hooks::new(config.hooks.clone(), &targets, hook_tx);
        ui.started(&RunInfo {
            urls: urls.clone(),
            lanes: config.lanes.clone(),
            rate: config.rate,
            timeout: config.timeout,
            duration: config.duration,
            command: config.wrap.as_ref().map(|w| w.label.clone().map_or_else(|| w.argv.clone(), |label| vec![label])),
            warmup: config.wrap.as_ref().map(|w| w.warmup),
        });
        if let Some(events) = events.as_mut() {
            events.run_start(config.rate, config.wrap.as_ref().map(|w| w.argv.as_slice()), &config.output.vantage);
        }
        let phased = config.wrap.as_ref().map(|_| config.gate_phases);
        let mut recorder = Recorder::new(&urls, config.rate, config.min_failures, clock, phased);
        recorder.name_targets(&targets);
        recorder.request_ids.clone_from(&config.request_ids);
        if config.output.ui == UiMode::Dashboard {
            recorder.keep_recent_latency();
        }
        recorder.track_values(&config.request.track.names());
        let mut run = Run {
            config,
            program: program.map(Path::to_path_buf).unwrap_or_default(),
            clock,
            urls,
            ui,
            events,
            recorder,
            end_tx,
            stage: Stage::Unwrapped,
            deploy: None,
            stopping: false,
            cancelled: false,
            stopped_by_gate: false,
            stop_reason: None,
            gate_states: Vec::new(),
            gates_judged_at: None,
            hooks,
            metrics,
        };
        if let Some(wrap) = &config.wrap {
            run.begin_phase(Phase::Warmup, clock.start);
            run.stage = Stage::Warmup;
            run.deploy = Some(DeployLog {
                wrap: wrap.clone(),
                start: None,
                end: None,
                termination: None,
                error: None,
                relay: None,
                drops_said: false,
            });
        }
        run
    }

    fn begin_phase(&mut self, phase: Phase, at: Instant) {
        self.recorder.begin_phase(phase, at);
        self.ui.phase(phase);
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.phase(phase);
        }
        if let Some(events) = self.events.as_mut() {
            events.phase(phase, self.clock.offset(at));
        }
    }

    pub fn sample(&mut self, sample: &Sample) {
        if let Some(events) = self.events.as_mut() {
            events.probe(sample);
        }
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.sample(sample);
        }
        for event in self.recorder.record(sample) {
            self.gates_judged_at = None;
            self.hooks.transition(&self.clock, event.target, &event.transition);
            self.announce(&event);
        }
    }

    /// A window that opened or closed, to every consumer but the hooks (which only a sample's
    /// transitions trigger, while the run lasts): the UI, the event log, the metrics.
    fn announce(&mut self, event: &crate::analysis::recorder::Event) {
        self.ui.event(&self.clock, event);
        if let Some(events) = self.events.as_mut() {
            events.transition(event);
        }
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.transition(event);
        }
    }

    /// A line of output, of the command or of a hook, shown as it came: whole, or the start of
    /// one that has not ended yet.
    fn show(&mut self, line: &OutputLine) {
        if line.ends_line {
            self.ui.output(line.stream, &line.text);
        } else {
            self.ui.output_part(line.stream, &line.text);
        }
    }

    pub fn tick(&mut self) {
        let now = Instant::now();
        let due_until = self.end_tx.borrow().map_or(now, |end| end.min(now));
        let elapsed = self.clock.offset(now);
        if let Some(deploy) = self.deploy.as_mut()
            && !deploy.drops_said
            && deploy.relay.as_ref().is_some_and(|r| r.dropped() > 0)
        {
            deploy.drops_said = true;
            self.ui.notice(
                "the command prints faster than its output can be shown: dropping lines (counted in the report)",
            );
        }
        // The snapshot is taken once per tick for every consumer; the detail only when the UI
        // shows it.
        let targets = self.recorder.snapshot();
        let detail = self.ui.detail_slices().map(|slices| self.recorder.detail(now, due_until, slices));
        // Judged again each second, on each state change, and on each tick while a URL is down,
        // when its downtime grows: the gates' figures never lag the counts shown beside them.
        let any_down = targets.iter().any(|t| t.down_since.is_some());
        if self.gates_judged_at != Some(elapsed.as_secs()) || any_down {
            let down: Vec<bool> = targets.iter().map(|t| t.down_since.is_some()).collect();
            self.gate_states = live::gates::states(&self.config.gates, &self.recorder.judged_views(Some(now)), &down);
            self.gates_judged_at = Some(elapsed.as_secs());
        }
        let end = self.end_tx.borrow().map(|end| self.clock.offset(end));
        let gates = &self.gate_states;
        self.ui.tick(live::Tick { now, elapsed, targets: &targets, detail, end, gates });
        if let Some(events) = self.events.as_mut() {
            events.tick(elapsed, &targets);
        }
        if let Some(metrics) = self.metrics.as_mut() {
            metrics.tick(&targets);
        }
        if self.config.fail_fast
            && !self.stopping
            && let Some(reason) = settled_gate_failure(&self.recorder, &self.config.gates, now)
        {
            self.stop(Signal::Terminate, &format!("{reason}; stopping (--fail-fast)"));
            self.stopped_by_gate = true;
        }
    }

    /// Ends the run the one normal way, for Ctrl-C, SIGTERM, SIGHUP, a quit key and `--fail-fast`
    /// alike: a running command is signalled (SIGKILL if asked twice) and the run ends when it
    /// exits; otherwise the schedule ends now. The command gets what [`Signal::passed_on`] says.
    pub fn stop(&mut self, signal: Signal, why: &str) {
        self.stop_reason.get_or_insert_with(|| why.to_string());
        self.ui.stopping(why);
        let signal = signal.passed_on();
        match &mut self.stage {
            Stage::Running { command, kill_at } => {
                let forward = if kill_at.is_some() { Signal::Kill } else { signal };
                command.signal(forward);
                kill_at.get_or_insert(Instant::now() + KILL_AFTER);
                self.ui.notice(&format!("sent {forward} to the command; probing until it exits"));
            }
            _ if !self.stopping => {
                end_at(&self.end_tx, Instant::now());
                self.stage = Stage::Done;
                self.ui.notice(&format!(
                    "stopping: waiting up to {} for probes in flight",
                    humantime::format_duration(self.config.timeout)
                ));
            }
            _ => {
                self.ui.notice("stopping now: probes still in flight are cancelled");
                self.cancelled = true;
            }
        }
        self.stopping = true;
    }

    /// The warmup is over: warn about URLs that were already failing, and start the command.
    pub fn start_command(&mut self, channels: &Channels) {
        // With no warmup nothing was probed before the deploy, so nothing can be refused for it;
        // a URL that never answers still fails its gates (`answered at least once`).
        let unchecked = self.deploy.as_ref().is_some_and(|d| d.wrap.warmup.is_zero());
        if unchecked {
            self.ui.notice("WARNING: --warmup 0s: the URLs were not checked before the COMMAND started");
        }
        let never_ok = if unchecked { Vec::new() } else { self.recorder.never_ok_in(Phase::Warmup) };
        for (i, (url, (failed, probes))) in
            self.urls.iter().zip(self.recorder.phase_failures(Phase::Warmup)).enumerate()
        {
            if failed > 0 && !never_ok.iter().any(|(target, _)| *target == i) {
                self.ui.notice(&format!(
                    "WARNING: {url} was already failing before the deploy: {failed} of its first {probes} warmup probes failed"
                ));
            }
        }
        let allowed = self.deploy.as_ref().is_some_and(|d| d.wrap.allow_down_before_deploy);
        for (target, answered) in &never_ok {
            let url = &self.urls[*target];
            let answered = answered
                .as_deref()
                .map_or("no probe reported in time".to_string(), |a| format!("it got {}", crate::sanitize::line(a)));
            self.ui.notice(&if allowed {
                format!(
                    "WARNING: {url} had no successful probe in the warmup ({answered}); starting the COMMAND anyway \
                     (--allow-down-before-deploy)"
                )
            } else {
                format!(
                    "{url} had no successful probe in the warmup ({answered}): not starting the COMMAND. \
                     Check the URL, or give --allow-down-before-deploy for a service that is down before its deploy"
                )
            });
        }
        if !never_ok.is_empty() && !allowed {
            // Never deploy blind: a URL that never answered would measure nothing of the deploy.
            self.stop_reason = Some(crate::report::verdict::DOWN_BEFORE_DEPLOY.to_string());
            if let Some(deploy) = self.deploy.as_mut() {
                deploy.error = Some("not started: a URL had no successful probe in the warmup".to_string());
            }
            end_at(&self.end_tx, Instant::now());
            self.stage = Stage::Done;
            self.stopping = true;
            return;
        }
        let Some(deploy) = self.deploy.as_mut() else { return };
        let start = Instant::now();
        match RunningCommand::spawn(&self.program, &deploy.wrap.argv, &[], channels.clone()) {
            Ok(command) => {
                deploy.start = Some(start);
                deploy.relay = Some(command.relay.clone());
                self.stage = Stage::Running { command, kill_at: None };
                self.begin_phase(Phase::Deploy, start);
            }
            Err(err) => {
                deploy.error = Some(err.to_string());
                self.ui.notice(&err.to_string());
                end_at(&self.end_tx, start);
                self.stage = Stage::Done;
            }
        }
    }

    /// A line of the command's output.
    pub fn output(&mut self, line: &OutputLine) {
        if let Some(relay) = self.deploy.as_ref().and_then(|d| d.relay.as_ref()) {
            relay.taken(line);
        }
        self.show(line);
    }

    /// The command exited: the deploy phase ends at the instant its wait returned, and the
    /// cooldown begins then, unless a stop request skips it.
    pub fn exited(&mut self, Exited { status, at }: Exited) {
        let Some(deploy) = self.deploy.as_mut() else { return };
        deploy.end = Some(at);
        match status {
            Ok(status) => deploy.termination = Some(Termination::of(status)),
            Err(err) => deploy.error = Some(format!("cannot wait for the command: {err}")),
        }
        let how = deploy.termination.as_ref().map_or("ended".to_string(), Termination::describe);
        let ran = at.saturating_duration_since(deploy.start.unwrap_or(at));
        let took = secs(ran);
        let min = deploy.wrap.min_deploy;
        if deploy.termination.as_ref().is_some_and(Termination::succeeded) && ran < min {
            self.ui.notice(&format!(
                "WARNING: the command succeeded after {took}, under --min-deploy {}: if it only started a rollout \
                 (kubectl apply, helm upgrade without --wait), blip is not measuring it; wrap the wait too \
                 (kubectl rollout status)",
                humantime::format_duration(min)
            ));
        }
        if self.stopping {
            // A cooldown of no length is not listed among the phases.
            self.ui.notice(&format!("command finished ({how}) after {took}; no cooldown after a stop request"));
            end_at(&self.end_tx, at);
        } else {
            let cooldown = deploy.wrap.cooldown;
            self.begin_phase(Phase::Cooldown, at);
            self.recorder.plan_end(at + cooldown);
            self.ui.notice(&format!(
                "command finished ({how}) after {took}; cooldown {}",
                humantime::format_duration(cooldown)
            ));
            end_at(&self.end_tx, at + cooldown);
        }
        self.stage = Stage::Done;
    }

    /// What a hook's supervisor reports: its start, a line of its output (shown as the
    /// command's is), its end.
    pub fn hook(&mut self, message: HookMessage) {
        match message {
            HookMessage::Started { target, command } => self.hooks.started(target, command),
            HookMessage::Output { relay, line } => {
                relay.taken(&line);
                self.show(&line);
            }
            HookMessage::Exited { target, exited } => self.hook_ended(target, Ok(exited)),
            HookMessage::Failed { target, error } => {
                self.ui.notice(&format!("hook for {}: {error}", self.urls.get(target).map_or("?", String::as_str)));
                self.hook_ended(target, Err(error));
            }
        }
    }

    fn hook_ended(&mut self, target: usize, end: Result<Exited, String>) {
        if let Some(run) = self.hooks.ended(&self.clock, target, end)
            && let Some(events) = self.events.as_mut()
        {
            events.hook(&run);
        }
    }

    /// The command outlived its grace after a stop request.
    pub fn kill(&mut self) {
        if let Stage::Running { command, kill_at } = &mut self.stage {
            command.signal(Signal::Kill);
            *kill_at = None;
            self.ui.notice(&format!(
                "the command outlived {} of grace: sent {}",
                humantime::format_duration(KILL_AFTER),
                Signal::Kill
            ));
        }
    }
}

/// Sets the end of the schedule to `at`, unless it ends earlier already.
fn end_at(end_tx: &watch::Sender<Option<Instant>>, at: Instant) {
    end_tx.send_modify(|end| *end = Some(end.map_or(at, |e| e.min(at))));
}

/// The first gate that failed for good, as a line for the user.
fn settled_gate_failure(recorder: &Recorder, gate_list: &Gates, now: Instant) -> Option<String> {
    recorder.judged_views(Some(now)).iter().find_map(|view| {
        gate_list.judge(view).into_iter().find(|v| v.settled).map(|v| {
            format!("gate {} failed for {}: observed {}, limit {}", v.shown(), view.label, v.observed, v.limit)
        })
    })
}
