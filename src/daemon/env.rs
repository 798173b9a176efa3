//! The environment programs start with: supervisord's own, then
//! `[supervisord] environment`, and the server URL they are told.

use crate::config::Config;
use std::ffi::OsString;

/// The server URL children get as SUPERVISOR_SERVER_URL: the first unix
/// socket, else the first inet server (`''` host -> localhost).
pub(in crate::daemon) fn server_url(config: &Config) -> Option<String> {
    if let Some(u) = config.unix_http_servers.first() {
        return Some(format!("unix://{}", u.file.display()));
    }
    config.inet_http_servers.first().map(|i| {
        let host = if i.host.is_empty() || i.host == "*" {
            "localhost"
        } else {
            i.host.as_str()
        };
        format!("http://{host}:{}", i.port)
    })
}

pub(in crate::daemon) fn set_env(
    env: &mut Vec<(OsString, OsString)>,
    k: impl Into<OsString>,
    v: impl Into<OsString>,
) {
    let (k, v) = (k.into(), v.into());
    match env.iter_mut().find(|(ek, _)| *ek == k) {
        Some(e) => e.1 = v,
        None => env.push((k, v)),
    }
}

pub(in crate::daemon) fn base_env(config: &Config) -> Vec<(OsString, OsString)> {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
    for (k, v) in &config.supervisord.environment {
        set_env(&mut env, k, v);
    }
    env
}
