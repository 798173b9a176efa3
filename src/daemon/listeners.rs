//! Eventlistener pools: events handed to pools and listeners, rejected ones
//! requeued, TICK events.

use crate::config::LogLevel;
use crate::daemon::core::Supervisor;
use crate::events::pool::Queued;
use crate::events::{Event, EventType};
use crate::process::state::ProcessState;
use std::time::{Duration, Instant, SystemTime};

impl Supervisor {
    /// React to what a listener said on its stdout.
    pub(in crate::daemon) fn listener_signals(
        &mut self,
        gi: usize,
        pi: usize,
        signals: Vec<crate::events::listener::Signal>,
    ) {
        use crate::events::listener::{ListenerState, Signal};
        let name = self.groups[gi].processes[pi].config.name.clone();
        for s in signals {
            match s {
                Signal::Changed { from, to } => {
                    self.log.log(
                        LogLevel::Debug,
                        &format!("{name}: {} -> {}", from.name(), to.name()),
                    );
                    if to == ListenerState::Unknown {
                        self.log.log(LogLevel::Warn, &format!("{name}: has entered the UNKNOWN state and will no longer receive events, this usually indicates the process violated the eventlistener protocol"));
                    }
                }
                Signal::Accepted => {
                    self.log
                        .log(LogLevel::Debug, &format!("{name}: event was processed"));
                    self.groups[gi].processes[pi].listener_event = None;
                }
                Signal::Rejected { .. } => {
                    self.log
                        .log(LogLevel::Warn, &format!("{name}: event was rejected"));
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                }
                Signal::BadResultLine { line } => {
                    self.log.log(
                        LogLevel::Warn,
                        &format!("{name}: bad result line: '{line}'"),
                    );
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                }
            }
        }
    }

    /// Put an event a listener did not take back at the head of its pool.
    pub(in crate::daemon) fn requeue_event(&mut self, gi: usize, q: Queued) {
        let serial = q.serial;
        let g = &mut self.groups[gi];
        let Some(pool) = g.pool.as_mut() else { return };
        let pool_name = pool.name.clone();
        let dropped = pool.requeue(q);
        let len = pool.queue.len();
        let cap = pool.capacity;
        self.log.log(
            LogLevel::Debug,
            &format!("rebuffering event {serial} for pool {pool_name} (buf size={len}, max={cap})"),
        );
        if let Some(d) = dropped {
            self.log.log(
                LogLevel::Error,
                &format!("pool {pool_name} event buffer overflowed, discarding event {d}"),
            );
        }
    }

    /// Hand every published event to the pools that subscribe to it, then
    /// give buffered events to READY listeners.
    pub(in crate::daemon) fn dispatch_events(&mut self) {
        if !self.has_pools() {
            self.bus.drain().for_each(drop);
            return;
        }
        let events: Vec<Event> = self.bus.drain().collect();
        for ev in events {
            let ev = std::sync::Arc::new(ev);
            let mut serial = None;
            for gi in 0..self.groups.len() {
                let Some(pool) = self.groups[gi].pool.as_mut() else {
                    continue;
                };
                if !pool.wants(ev.kind) {
                    continue;
                }
                let s = *serial.get_or_insert_with(|| self.serials.assign());
                if let Some(d) = pool.accept(std::sync::Arc::clone(&ev), s) {
                    let msg = format!(
                        "pool {} event buffer overflowed, discarding event {d}",
                        pool.name
                    );
                    self.log.log(LogLevel::Error, &msg);
                }
            }
        }
        let identifier = self.config.supervisord.identifier.clone();
        for gi in 0..self.groups.len() {
            loop {
                let g = &mut self.groups[gi];
                let Some(pool) = g.pool.as_mut() else { break };
                if pool.queue.is_empty() {
                    break;
                }
                let ready = g.processes.iter().position(|p| {
                    p.machine.state() == ProcessState::Running
                        && p.stdin.is_some()
                        && p.listener.as_ref().is_some_and(|l| {
                            l.state == crate::events::listener::ListenerState::Ready
                        })
                });
                let Some(pi) = ready else { break };
                let Some(q) = pool.pop() else { break };
                let envelope = crate::events::pool::envelope(&identifier, &pool.name, &q);
                let serial = q.serial;
                let p = &mut g.processes[pi];
                p.stdin_buf.extend(envelope);
                if let Some(proto) = p.listener.as_mut() {
                    proto.sent_event();
                }
                p.listener_event = Some(q);
                let name = p.config.name.clone();
                if let Err(e) = self.flush_stdin(gi, pi) {
                    self.log.log(
                        LogLevel::Debug,
                        &format!(
                            "epipe occurred while sending event {serial} to listener {name}: {e}"
                        ),
                    );
                    if let Some(q) = self.groups[gi].processes[pi].listener_event.take() {
                        self.requeue_event(gi, q);
                    }
                    continue;
                }
                self.log.log(
                    LogLevel::Debug,
                    &format!("event {serial} sent to listener {name}"),
                );
            }
        }
    }

    /// TICK_5/60/3600 when a timeslice rolls over, only for periods some
    /// pool subscribes to (so an idle daemon without tick listeners never
    /// wakes up).  Returns the next tick deadline.
    pub(in crate::daemon) fn tick_events(&mut self) -> Option<Instant> {
        const PERIODS: [(u64, EventType); 3] = [
            (5, EventType::Tick5),
            (60, EventType::Tick60),
            (3600, EventType::Tick3600),
        ];
        let now_wall = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        let now_secs = now_wall.as_secs();
        let mut next: Option<Instant> = None;
        for (i, (period, kind)) in PERIODS.into_iter().enumerate() {
            let wanted = self
                .groups
                .iter()
                .filter_map(|g| g.pool.as_ref())
                .any(|p| p.wants(kind));
            if !wanted {
                self.ticks[i] = None;
                continue;
            }
            let this = now_secs - now_secs % period;
            match self.ticks[i] {
                None => self.ticks[i] = Some(this),
                Some(last) if last != this => {
                    self.ticks[i] = Some(this);
                    self.bus.publish(Event::tick(kind, this));
                }
                _ => {}
            }
            let until = Duration::from_secs(this + period).saturating_sub(now_wall);
            let at = Instant::now() + until;
            next = Some(next.map_or(at, |n: Instant| n.min(at)));
        }
        next
    }
}
