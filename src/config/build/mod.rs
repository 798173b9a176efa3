//! Building the typed config, one file per family of sections.
//!
//! From the raw sections to the typed [`Config`]: expansion per place (SPEC
//! A3), conversion of every option (A2/A4), cross-field rules, host checks
//! (through [`super::os`]) and warnings.  Every problem becomes a located
//! [`Diagnostic`]; nothing stops at the first one.  `config::load` drives
//! it; each family of sections has its file here: `supervisord`, `groups`
//! (programs, groups, event listeners, FastCGI), `process` (one program's
//! processes) and `servers` (HTTP servers, RPC interfaces, supervisorctl,
//! health).

mod checks;
mod ctx;
mod depends;
mod groups;
mod launch;
mod lines;
mod process;
mod servers;
mod supervisord;

pub use ctx::Ctx;
#[cfg(test)]
pub use groups::EVENT_TYPES;
