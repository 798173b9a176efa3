//! Processes: the pure state machine (`state`), spawning (`spawn`).

pub mod state;
