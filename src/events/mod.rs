//! Events: Supervisor's event types, their payloads, and the internal bus.
//!
//! Every state change of a process goes through the daemon's one emitter,
//! which builds an [`Event`] here and pushes it on the [`Bus`], whether or not
//! anybody listens.  Subscribers (eventlistener pools, `sendRemoteCommEvent`
//! consumers) read the bus; nothing re-plumbs state changes on its own.

pub mod listener;
pub mod pool;

use crate::process::state::ProcessState;
use std::collections::VecDeque;

/// Every concrete and abstract event type of Supervisor 4.x (SPEC A10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    Event,
    ProcessState,
    ProcessStateStopped,
    ProcessStateExited,
    ProcessStateStarting,
    ProcessStateStopping,
    ProcessStateBackoff,
    ProcessStateFatal,
    ProcessStateRunning,
    ProcessStateUnknown,
    ProcessLog,
    ProcessLogStdout,
    ProcessLogStderr,
    ProcessCommunication,
    ProcessCommunicationStdout,
    ProcessCommunicationStderr,
    RemoteCommunication,
    SupervisorStateChange,
    SupervisorStateChangeRunning,
    SupervisorStateChangeStopping,
    Tick,
    Tick5,
    Tick60,
    Tick3600,
    ProcessGroup,
    ProcessGroupAdded,
    ProcessGroupRemoved,
}

impl EventType {
    pub const ALL: [EventType; 27] = [
        EventType::Event,
        EventType::ProcessState,
        EventType::ProcessStateStopped,
        EventType::ProcessStateExited,
        EventType::ProcessStateStarting,
        EventType::ProcessStateStopping,
        EventType::ProcessStateBackoff,
        EventType::ProcessStateFatal,
        EventType::ProcessStateRunning,
        EventType::ProcessStateUnknown,
        EventType::ProcessLog,
        EventType::ProcessLogStdout,
        EventType::ProcessLogStderr,
        EventType::ProcessCommunication,
        EventType::ProcessCommunicationStdout,
        EventType::ProcessCommunicationStderr,
        EventType::RemoteCommunication,
        EventType::SupervisorStateChange,
        EventType::SupervisorStateChangeRunning,
        EventType::SupervisorStateChangeStopping,
        EventType::Tick,
        EventType::Tick5,
        EventType::Tick60,
        EventType::Tick3600,
        EventType::ProcessGroup,
        EventType::ProcessGroupAdded,
        EventType::ProcessGroupRemoved,
    ];

    pub fn name(self) -> &'static str {
        use EventType::*;
        match self {
            Event => "EVENT",
            ProcessState => "PROCESS_STATE",
            ProcessStateStopped => "PROCESS_STATE_STOPPED",
            ProcessStateExited => "PROCESS_STATE_EXITED",
            ProcessStateStarting => "PROCESS_STATE_STARTING",
            ProcessStateStopping => "PROCESS_STATE_STOPPING",
            ProcessStateBackoff => "PROCESS_STATE_BACKOFF",
            ProcessStateFatal => "PROCESS_STATE_FATAL",
            ProcessStateRunning => "PROCESS_STATE_RUNNING",
            ProcessStateUnknown => "PROCESS_STATE_UNKNOWN",
            ProcessLog => "PROCESS_LOG",
            ProcessLogStdout => "PROCESS_LOG_STDOUT",
            ProcessLogStderr => "PROCESS_LOG_STDERR",
            ProcessCommunication => "PROCESS_COMMUNICATION",
            ProcessCommunicationStdout => "PROCESS_COMMUNICATION_STDOUT",
            ProcessCommunicationStderr => "PROCESS_COMMUNICATION_STDERR",
            RemoteCommunication => "REMOTE_COMMUNICATION",
            SupervisorStateChange => "SUPERVISOR_STATE_CHANGE",
            SupervisorStateChangeRunning => "SUPERVISOR_STATE_CHANGE_RUNNING",
            SupervisorStateChangeStopping => "SUPERVISOR_STATE_CHANGE_STOPPING",
            Tick => "TICK",
            Tick5 => "TICK_5",
            Tick60 => "TICK_60",
            Tick3600 => "TICK_3600",
            ProcessGroup => "PROCESS_GROUP",
            ProcessGroupAdded => "PROCESS_GROUP_ADDED",
            ProcessGroupRemoved => "PROCESS_GROUP_REMOVED",
        }
    }

    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.iter().copied().find(|t| t.name() == name)
    }

    /// The abstract type this one derives from (None for EVENT).
    pub fn parent(self) -> Option<EventType> {
        use EventType::*;
        Some(match self {
            Event => return None,
            ProcessState
            | ProcessLog
            | ProcessCommunication
            | RemoteCommunication
            | SupervisorStateChange
            | Tick
            | ProcessGroup => Event,
            ProcessStateStopped | ProcessStateExited | ProcessStateStarting
            | ProcessStateStopping | ProcessStateBackoff | ProcessStateFatal
            | ProcessStateRunning | ProcessStateUnknown => ProcessState,
            ProcessLogStdout | ProcessLogStderr => ProcessLog,
            ProcessCommunicationStdout | ProcessCommunicationStderr => ProcessCommunication,
            SupervisorStateChangeRunning | SupervisorStateChangeStopping => SupervisorStateChange,
            Tick5 | Tick60 | Tick3600 => Tick,
            ProcessGroupAdded | ProcessGroupRemoved => ProcessGroup,
        })
    }

    /// Whether a subscription to `other` receives events of this type
    /// (Python's isinstance on the event class).
    pub fn is_a(self, other: EventType) -> bool {
        let mut t = Some(self);
        while let Some(cur) = t {
            if cur == other {
                return true;
            }
            t = cur.parent();
        }
        false
    }

    /// The PROCESS_STATE_* type for entering `state`.
    pub fn for_state(state: ProcessState) -> EventType {
        match state {
            ProcessState::Stopped => EventType::ProcessStateStopped,
            ProcessState::Starting => EventType::ProcessStateStarting,
            ProcessState::Running => EventType::ProcessStateRunning,
            ProcessState::Backoff => EventType::ProcessStateBackoff,
            ProcessState::Stopping => EventType::ProcessStateStopping,
            ProcessState::Exited => EventType::ProcessStateExited,
            ProcessState::Fatal => EventType::ProcessStateFatal,
            ProcessState::Unknown => EventType::ProcessStateUnknown,
        }
    }
}

/// One event, as an owned snapshot taken when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventType,
    /// The payload exactly as a listener receives it after the header
    /// (always text: undecodable child output is shown as Python's repr).
    pub payload: String,
}

impl Event {
    /// A PROCESS_STATE_* event with Supervisor's payload:
    /// `processname:x groupname:g from_state:S` plus ` tries:N` (STARTING,
    /// BACKOFF), ` expected:0|1 pid:N` (EXITED), ` pid:N` (RUNNING, STOPPING,
    /// STOPPED); no trailing newline.
    pub fn process_state(
        process: &str,
        group: &str,
        from: ProcessState,
        to: ProcessState,
        expected: bool,
        tries: u32,
        pid: i32,
    ) -> Event {
        let mut s = format!(
            "processname:{process} groupname:{group} from_state:{}",
            from.name()
        );
        match to {
            ProcessState::Starting | ProcessState::Backoff => {
                s.push_str(&format!(" tries:{tries}"))
            }
            ProcessState::Exited => {
                s.push_str(&format!(" expected:{} pid:{pid}", i32::from(expected)))
            }
            ProcessState::Running | ProcessState::Stopping | ProcessState::Stopped => {
                s.push_str(&format!(" pid:{pid}"))
            }
            ProcessState::Fatal | ProcessState::Unknown => {}
        }
        Event {
            kind: EventType::for_state(to),
            payload: s,
        }
    }

    /// SUPERVISOR_STATE_CHANGE_RUNNING / _STOPPING (empty payload).
    pub fn supervisor_state(running: bool) -> Event {
        let kind = if running {
            EventType::SupervisorStateChangeRunning
        } else {
            EventType::SupervisorStateChangeStopping
        };
        Event {
            kind,
            payload: String::new(),
        }
    }

    /// PROCESS_GROUP_ADDED / _REMOVED: `groupname:g\n`.
    pub fn process_group(group: &str, added: bool) -> Event {
        let kind = if added {
            EventType::ProcessGroupAdded
        } else {
            EventType::ProcessGroupRemoved
        };
        Event {
            kind,
            payload: format!("groupname:{group}\n"),
        }
    }

    /// PROCESS_LOG_STDOUT / _STDERR: `processname:x groupname:g pid:N channel:stdout\n<data>`.
    pub fn process_log(process: &str, group: &str, pid: i32, stderr: bool, data: &[u8]) -> Event {
        let (kind, channel) = if stderr {
            (EventType::ProcessLogStderr, "stderr")
        } else {
            (EventType::ProcessLogStdout, "stdout")
        };
        let payload = format!(
            "processname:{process} groupname:{group} pid:{pid} channel:{channel}\n{}",
            decode_data(data)
        );
        Event { kind, payload }
    }

    /// PROCESS_COMMUNICATION_STDOUT / _STDERR: `processname:x groupname:g pid:N\n<data>`.
    pub fn process_communication(
        process: &str,
        group: &str,
        pid: i32,
        stderr: bool,
        data: &[u8],
    ) -> Event {
        let kind = if stderr {
            EventType::ProcessCommunicationStderr
        } else {
            EventType::ProcessCommunicationStdout
        };
        Event {
            kind,
            payload: format!(
                "processname:{process} groupname:{group} pid:{pid}\n{}",
                decode_data(data)
            ),
        }
    }

    /// REMOTE_COMMUNICATION from `sendRemoteCommEvent`: `type:<type>\n<data>`.
    /// (Supervisor 4.3 means to encode both to bytes, but on Python 3 its
    /// `unicode` is a subclass of `str` that XML-RPC strings are not, so
    /// listeners get the text as sent, not a bytes repr.)
    pub fn remote_communication(kind_text: &str, data: &str) -> Event {
        Event {
            kind: EventType::RemoteCommunication,
            payload: format!("type:{kind_text}\n{data}"),
        }
    }

    /// TICK_5 / TICK_60 / TICK_3600: `when:<epoch floored to the period>`.
    pub fn tick(kind: EventType, when: u64) -> Event {
        Event {
            kind,
            payload: format!("when:{when}"),
        }
    }

    /// `len:` in the envelope: Python's `len()` of the payload string, i.e.
    /// characters, not bytes.
    pub fn payload_len(&self) -> usize {
        self.payload.chars().count()
    }
}

/// Child output as Supervisor renders it in an event: the UTF-8 text, or
/// `Undecodable: b'...'` when it is not valid UTF-8.
pub fn decode_data(data: &[u8]) -> String {
    match std::str::from_utf8(data) {
        Ok(s) => s.to_string(),
        Err(_) => format!("Undecodable: {}", listener::bytes_repr(data)),
    }
}

/// The internal event bus: a FIFO drained once per loop turn.  It holds events
/// only while somebody subscribes; with no subscriber, `drain` discards them,
/// so an idle daemon never accumulates memory.
#[derive(Debug, Default)]
pub struct Bus {
    queue: VecDeque<Event>,
    /// Total events ever published (for diagnostics and tests).
    published: u64,
}

impl Bus {
    pub fn new() -> Bus {
        Bus::default()
    }

    pub fn publish(&mut self, event: Event) {
        self.published += 1;
        self.queue.push_back(event);
    }

    /// Take every queued event, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.queue.drain(..)
    }

    #[cfg(test)]
    pub fn published(&self) -> u64 {
        self.published
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy() {
        assert!(EventType::ProcessStateExited.is_a(EventType::ProcessState));
        assert!(EventType::ProcessStateExited.is_a(EventType::Event));
        assert!(!EventType::ProcessStateExited.is_a(EventType::Tick));
        assert!(EventType::Tick5.is_a(EventType::Tick));
        assert_eq!(
            EventType::from_name("PROCESS_LOG_STDERR"),
            Some(EventType::ProcessLogStderr)
        );
        assert_eq!(EventType::from_name("NOPE"), None);
        for t in EventType::ALL {
            assert_eq!(EventType::from_name(t.name()), Some(t));
            assert!(t.is_a(EventType::Event));
        }
    }

    #[test]
    fn process_state_payloads() {
        use ProcessState::*;
        let p = |from, to, exp, tries, pid| {
            Event::process_state("cat", "g", from, to, exp, tries, pid).payload
        };
        assert_eq!(
            p(Stopped, Starting, true, 0, 0),
            "processname:cat groupname:g from_state:STOPPED tries:0"
        );
        assert_eq!(
            p(Starting, Backoff, true, 2, 7),
            "processname:cat groupname:g from_state:STARTING tries:2"
        );
        assert_eq!(
            p(Running, Exited, false, 0, 42),
            "processname:cat groupname:g from_state:RUNNING expected:0 pid:42"
        );
        assert_eq!(
            p(Starting, Running, true, 0, 42),
            "processname:cat groupname:g from_state:STARTING pid:42"
        );
        assert_eq!(
            p(Stopping, Stopped, true, 0, 42),
            "processname:cat groupname:g from_state:STOPPING pid:42"
        );
        assert_eq!(
            p(Backoff, Fatal, true, 0, 0),
            "processname:cat groupname:g from_state:BACKOFF"
        );
        let e = Event::process_state("cat", "g", Running, Exited, true, 0, 1);
        assert_eq!(e.kind, EventType::ProcessStateExited);
    }

    #[test]
    fn group_and_supervisor_payloads() {
        assert_eq!(Event::process_group("web", true).payload, "groupname:web\n");
        assert_eq!(
            Event::supervisor_state(false).kind,
            EventType::SupervisorStateChangeStopping
        );
        assert!(Event::supervisor_state(true).payload.is_empty());
    }

    #[test]
    fn log_comm_remote_tick_payloads_like_supervisor() {
        let e = Event::process_log("cat", "", 5, false, b"\xffab");
        assert_eq!(
            e.payload,
            "processname:cat groupname: pid:5 channel:stdout\nUndecodable: b'\\xffab'"
        );
        let e = Event::process_log("cat", "", 5, false, "héllo".as_bytes());
        assert_eq!(
            e.payload,
            "processname:cat groupname: pid:5 channel:stdout\nhéllo"
        );
        assert_eq!(e.payload_len(), 53, "characters, as Python counts them");
        let e = Event::remote_communication("x", "héllo");
        assert_eq!(e.payload, "type:x\nhéllo");
        assert_eq!(e.payload_len(), 12);
        let e = Event::process_communication("cat", "g", 7, true, b"data");
        assert_eq!(e.kind, EventType::ProcessCommunicationStderr);
        assert_eq!(e.payload, "processname:cat groupname:g pid:7\ndata");
        assert_eq!(Event::tick(EventType::Tick60, 120).payload, "when:120");
    }

    #[test]
    fn bus_is_fifo_and_drains() {
        let mut b = Bus::new();
        b.publish(Event::supervisor_state(true));
        b.publish(Event::process_group("a", true));
        let kinds: Vec<_> = b.drain().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EventType::SupervisorStateChangeRunning,
                EventType::ProcessGroupAdded
            ]
        );
        assert!(b.is_empty());
        assert_eq!(b.published(), 2);
    }
}
