//! An eventlistener pool's buffer (Supervisor's `EventListenerPool` event
//! buffer): subscription matching, serials, the bounded queue that drops the
//! oldest event on overflow, re-queueing at the head, and the envelope.

use super::{Event, EventType};
use std::collections::VecDeque;
use std::sync::Arc;

/// An event waiting in (or taken from) a pool, with its serials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub event: Arc<Event>,
    /// Global serial (`serial:`), shared by every pool that got the event.
    pub serial: u64,
    /// This pool's serial (`poolserial:`).
    pub pool_serial: u64,
}

/// Global event serials: assigned the first time any pool buffers an event.
#[derive(Debug, Default)]
pub struct Serials {
    next: u64,
}

impl Serials {
    pub fn assign(&mut self) -> u64 {
        let s = self.next;
        self.next = self.next.wrapping_add(1);
        s
    }
}

#[derive(Debug)]
pub struct PoolBuffer {
    pub name: String,
    pub subscriptions: Vec<EventType>,
    pub capacity: usize,
    pub queue: VecDeque<Queued>,
    next_pool_serial: u64,
}

impl PoolBuffer {
    pub fn new(name: &str, events: &[String], capacity: usize) -> PoolBuffer {
        PoolBuffer {
            name: name.to_string(),
            subscriptions: events
                .iter()
                .filter_map(|e| EventType::from_name(e))
                .collect(),
            capacity: capacity.max(1),
            queue: VecDeque::new(),
            next_pool_serial: 0,
        }
    }

    pub fn wants(&self, kind: EventType) -> bool {
        self.subscriptions.iter().any(|&s| kind.is_a(s))
    }

    /// Buffer a new event at the tail.  Returns the serial of an event
    /// discarded because the buffer was full (the oldest), if any.
    pub fn accept(&mut self, event: Arc<Event>, serial: u64) -> Option<u64> {
        let pool_serial = self.next_pool_serial;
        self.next_pool_serial = self.next_pool_serial.wrapping_add(1);
        let dropped = self.make_room();
        self.queue.push_back(Queued {
            event,
            serial,
            pool_serial,
        });
        dropped
    }

    /// Put a rejected (or undelivered) event back at the head, keeping its
    /// serials.  Returns a discarded serial on overflow.
    pub fn requeue(&mut self, q: Queued) -> Option<u64> {
        let dropped = self.make_room();
        self.queue.push_front(q);
        dropped
    }

    fn make_room(&mut self) -> Option<u64> {
        if self.queue.len() >= self.capacity {
            return self.queue.pop_front().map(|q| q.serial);
        }
        None
    }

    pub fn pop(&mut self) -> Option<Queued> {
        self.queue.pop_front()
    }
}

/// The bytes written to a listener's stdin: header line and payload.
pub fn envelope(identifier: &str, pool: &str, q: &Queued) -> Vec<u8> {
    format!(
        "ver:3.0 server:{identifier} serial:{} pool:{pool} poolserial:{} eventname:{} len:{}\n{}",
        q.serial,
        q.pool_serial,
        q.event.kind.name(),
        q.event.payload_len(),
        q.event.payload
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: EventType) -> Arc<Event> {
        Arc::new(Event {
            kind,
            payload: String::new(),
        })
    }

    #[test]
    fn subscription_by_parent_type() {
        let p = PoolBuffer::new("p", &["PROCESS_STATE".into(), "TICK_5".into()], 10);
        assert!(p.wants(EventType::ProcessStateExited));
        assert!(p.wants(EventType::Tick5));
        assert!(!p.wants(EventType::Tick60));
        let all = PoolBuffer::new("p", &["EVENT".into()], 10);
        assert!(all.wants(EventType::RemoteCommunication));
    }

    #[test]
    fn overflow_drops_the_oldest_and_serials_count_up() {
        let mut p = PoolBuffer::new("p", &["EVENT".into()], 2);
        assert_eq!(p.accept(ev(EventType::Tick5), 0), None);
        assert_eq!(p.accept(ev(EventType::Tick5), 1), None);
        assert_eq!(p.accept(ev(EventType::Tick5), 2), Some(0));
        let q: Vec<(u64, u64)> = p.queue.iter().map(|q| (q.serial, q.pool_serial)).collect();
        assert_eq!(q, vec![(1, 1), (2, 2)]);
        let head = p.pop().expect("event");
        assert_eq!(head.serial, 1);
        assert_eq!(p.requeue(head), None);
        assert_eq!(p.pop().map(|q| q.serial), Some(1), "re-queued at the head");
    }

    #[test]
    fn envelope_format() {
        let e = Arc::new(Event::process_state(
            "cat",
            "cat",
            crate::process::state::ProcessState::Starting,
            crate::process::state::ProcessState::Running,
            true,
            0,
            42,
        ));
        let q = Queued {
            event: e,
            serial: 7,
            pool_serial: 3,
        };
        let s = String::from_utf8(envelope("supervisor", "listener", &q)).unwrap_or_default();
        assert_eq!(
            s,
            "ver:3.0 server:supervisor serial:7 pool:listener poolserial:3 eventname:PROCESS_STATE_RUNNING len:56\nprocessname:cat groupname:cat from_state:STARTING pid:42"
        );
    }
}
