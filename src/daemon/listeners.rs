//! Eventlistener pools: events handed to pools and listeners, rejected ones
//! requeued, TICK events.

use crate::config::LogLevel;
use crate::daemon::core::Supervisor;
use crate::daemon::groups::{GroupId, ProcId};
use crate::events::pool::Queued;
use crate::events::{Event, EventType};
use crate::process::state::ProcessState;
use std::time::{Duration, Instant, SystemTime};

impl Supervisor {
    /// React to what a listener said on its stdout.
    pub(in crate::daemon) fn listener_signals(
        &mut self,
        id: ProcId,
        signals: Vec<crate::events::listener::Signal>,
    ) {
        use crate::events::listener::{ListenerState, Signal};
        let Some(name) = self.groups.proc(id).map(|p| p.config.name.clone()) else {
            return;
        };
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
                    if let Some(p) = self.groups.proc_mut(id) {
                        p.listener_event = None;
                    }
                }
                Signal::Rejected { .. } => {
                    self.log
                        .log(LogLevel::Warn, &format!("{name}: event was rejected"));
                    if let Some(q) = self
                        .groups
                        .proc_mut(id)
                        .and_then(|p| p.listener_event.take())
                    {
                        self.requeue_event(id.group, q);
                    }
                }
                Signal::BadResultLine { line } => {
                    self.log.log(
                        LogLevel::Warn,
                        &format!("{name}: bad result line: '{line}'"),
                    );
                    if let Some(q) = self
                        .groups
                        .proc_mut(id)
                        .and_then(|p| p.listener_event.take())
                    {
                        self.requeue_event(id.group, q);
                    }
                }
            }
        }
    }

    /// Put an event a listener did not take back at the head of its pool.
    pub(in crate::daemon) fn requeue_event(&mut self, gid: GroupId, q: Queued) {
        let serial = q.serial;
        let Some(pool) = self.groups.get_mut(gid).and_then(|g| g.pool.as_mut()) else {
            return;
        };
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
            for gid in self.groups.ids() {
                let Some(pool) = self.groups.get_mut(gid).and_then(|g| g.pool.as_mut()) else {
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
        for gid in self.groups.ids() {
            while let Some(pool) = self.groups.get(gid).and_then(|g| g.pool.as_ref()) {
                if pool.queue.is_empty() {
                    break;
                }
                let ready = self.group_processes(gid).into_iter().find(|&id| {
                    self.groups.proc(id).is_some_and(|p| {
                        p.machine.state() == ProcessState::Running
                            && p.stdin.is_some()
                            && p.listener.as_ref().is_some_and(|l| {
                                l.state == crate::events::listener::ListenerState::Ready
                            })
                    })
                });
                let Some(id) = ready else { break };
                let Some(pool) = self.groups.get_mut(gid).and_then(|g| g.pool.as_mut()) else {
                    break;
                };
                let Some(q) = pool.pop() else { break };
                let envelope = crate::events::pool::envelope(&identifier, &pool.name, &q);
                let serial = q.serial;
                let Some(p) = self.groups.proc_mut(id) else {
                    break;
                };
                p.stdin_buf.extend(envelope);
                if let Some(proto) = p.listener.as_mut() {
                    proto.sent_event();
                }
                p.listener_event = Some(q);
                let name = p.config.name.clone();
                if let Err(e) = self.flush_stdin(id) {
                    self.log.log(
                        LogLevel::Debug,
                        &format!(
                            "epipe occurred while sending event {serial} to listener {name}: {e}"
                        ),
                    );
                    if let Some(q) = self
                        .groups
                        .proc_mut(id)
                        .and_then(|p| p.listener_event.take())
                    {
                        self.requeue_event(id.group, q);
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
        for ((period, kind), last) in PERIODS.into_iter().zip(self.ticks.iter_mut()) {
            let wanted = self
                .groups
                .iter()
                .filter_map(|(_, g)| g.pool.as_ref())
                .any(|p| p.wants(kind));
            if !wanted {
                *last = None;
                continue;
            }
            let this = now_secs - now_secs % period;
            match *last {
                None => *last = Some(this),
                Some(before) if before != this => {
                    *last = Some(this);
                    self.bus.publish(Event::tick(kind, this));
                }
                _ => {}
            }
            let until = Duration::from_secs(this + period).saturating_sub(now_wall);
            let at = self.os.now() + until;
            next = Some(next.map_or(at, |n: Instant| n.min(at)));
        }
        next
    }
}
