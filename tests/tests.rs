//! Integration tests: they run the real `supervisord` binary.
//!
//! One crate for all of them (faster to build, shared harness). Set
//! `SUPERVISORD_BIN` to test another build of the binary, e.g. the static
//! musl one; `SUPERVISOR_REF_VENV` to a virtualenv with the reference Python
//! Supervisor to enable the comparison tests. See `util` for the harness.

mod util;

mod checks;
mod cli_smoke;
mod config_errors;
mod ctl;
mod daemon_life;
mod depends;
mod docker;
mod dockerfiles;
mod events;
mod extreme_values;
mod failfast;
mod harness_selftest;
mod health;
mod k8s;
mod launch;
mod layout;
mod lifecycle;
mod log_lines;
mod logs;
mod loop_robust;
mod pid1;
mod pidproxy;
mod rpc_compat;
mod rpc_robust;
mod shell_pty;
mod webui;
