//! Servers and clients: `[unix_http_server]`, `[inet_http_server]`, `[rpcinterface:x]`, `[supervisorctl]`, `[ctlplugin:x]`, `[health_server]`.

use std::path::PathBuf;

use super::ctx::Ctx;
use crate::config::datatypes as dt;
use crate::config::expand::{Expansions, Val};
use crate::config::source::Section;
use crate::config::types::*;

const DEFAULT_RPC_FACTORY: &str = "supervisor.rpcinterface:make_main_rpcinterface";
const UNIX_KEYS: &[&str] = &["file", "chmod", "chown", "username", "password"];
const INET_KEYS: &[&str] = &["port", "username", "password"];
const CTL_KEYS: &[&str] = &[
    "serverurl",
    "username",
    "password",
    "prompt",
    "history_file",
];
const HEALTH_KEYS: &[&str] = &["port"];

impl<'a> Ctx<'a> {
    fn auth(&mut self, sec: &'a Section) -> (Option<String>, Option<String>) {
        let exp = self.env_exp.clone();
        let u = self.get(sec, "username", None, &exp).ok().flatten();
        let p = self.get(sec, "password", None, &exp).ok().flatten();
        if u.is_some() != p.is_some() {
            let key = if u.is_some() { "username" } else { "password" };
            let at = self.at(sec, key);
            self.error(
                at,
                Some(key),
                format!("Section [{}] contains incomplete authentication: If a username or a password is specified, both the username and password must be specified", sec.name),
            );
        }
        (u, p)
    }

    pub fn servers(&mut self) -> (Vec<UnixHttpServer>, Vec<InetHttpServer>) {
        let raw = self.raw;
        let mut inet = Vec::new();
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("inet_http_server"))
        {
            self.unknown_options(sec, &[INET_KEYS]);
            let (username, password) = self.auth(sec);
            let exp = self.env_exp.clone();
            match self.get(sec, "port", None, &exp) {
                Ok(Some(p)) => match dt::inet_address(&p) {
                    Ok((host, port)) => inet.push(InetHttpServer {
                        section: sec.name.clone(),
                        host,
                        port,
                        username,
                        password,
                    }),
                    Err(m) => {
                        let at = self.at(sec, "port");
                        self.error(at, Some("port"), m);
                    }
                },
                Ok(None) => self.error(
                    Self::sec_at(sec),
                    Some("port"),
                    format!("section [{}] has no port value", sec.name),
                ),
                Err(()) => {}
            }
        }
        let mut unix = Vec::new();
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("unix_http_server"))
        {
            self.unknown_options(sec, &[UNIX_KEYS]);
            let mut exp = self.env_exp.clone();
            exp.insert("here".into(), Val::Str(self.here.clone()));
            let file = match self.get(sec, "file", None, &exp) {
                Ok(Some(f)) => Some(dt::normalize_path(
                    dt::py_strip(&f),
                    &self.cwd,
                    self.home.as_deref(),
                )),
                Ok(None) => {
                    self.error(
                        Self::sec_at(sec),
                        Some("file"),
                        format!("section [{}] has no file value", sec.name),
                    );
                    None
                }
                Err(()) => None,
            };
            let (username, password) = self.auth(sec);
            let env_only = self.env_exp.clone();
            let chown = match self.get(sec, "chown", None, &env_only) {
                Ok(Some(v)) => match dt::owner(&v) {
                    Ok(o) => {
                        let at = self.at(sec, "chown");
                        self.check_owner(at, "chown", &o, "sockchown");
                        Some(o)
                    }
                    Err(_) => {
                        let at = self.at(sec, "chown");
                        self.error(at, Some("chown"), format!("Invalid sockchown value {v}"));
                        None
                    }
                },
                _ => None,
            };
            let chmod = self.mode(sec, "chmod", &env_only).unwrap_or(0o700);
            if let Some(file) = file {
                unix.push(UnixHttpServer {
                    section: sec.name.clone(),
                    file: PathBuf::from(file),
                    chmod,
                    chown,
                    username,
                    password,
                });
            }
        }
        (unix, inet)
    }

    pub fn rpcinterfaces(&mut self) -> Vec<RpcInterface> {
        let raw = self.raw;
        let mut out = Vec::new();
        let key = "supervisor.rpcinterface_factory";
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("rpcinterface:"))
        {
            let name = sec.name.split_once(':').map_or("", |x| x.1).to_string();
            let exp = self.env_exp.clone();
            let factory = match self.get(sec, key, None, &exp) {
                Ok(Some(f)) => f,
                Ok(None) => {
                    self.error(
                        Self::sec_at(sec),
                        Some(key),
                        format!("section [{}] does not specify a {}", sec.name, key),
                    );
                    continue;
                }
                Err(()) => continue,
            };
            // The other keys are factory arguments; Supervisor expands them too.
            for e in &sec.entries {
                if e.key != key {
                    let _ = self.get(sec, &e.key, None, &exp);
                }
            }
            if factory != DEFAULT_RPC_FACTORY {
                let at = self.at(sec, key);
                self.warn(
                    at,
                    Some(key),
                    format!(
                        "[{}] names the Python plug-in {}, which cannot be loaded; it is ignored",
                        sec.name, factory
                    ),
                );
            }
            out.push(RpcInterface { name, factory });
        }
        out
    }

    /// `[supervisorctl]` as supervisorctl reads it (`here` and the process
    /// environment only).
    pub fn ctl(&mut self, sec: &'a Section) -> Ctl {
        self.unknown_options(sec, &[CTL_KEYS]);
        let mut env = Expansions::new();
        for (k, v) in &self.opts.env {
            env.insert(format!("ENV_{k}"), Val::Str(v.clone()));
        }
        let mut with_here = env.clone();
        with_here.insert("here".into(), Val::Str(self.here.clone()));
        let mut serverurl = self
            .get(sec, "serverurl", Some("http://localhost:9001"), &with_here)
            .ok()
            .flatten()
            .unwrap_or_else(|| "http://localhost:9001".into());
        if let Some(p) = serverurl.strip_prefix("unix://") {
            serverurl = format!(
                "unix://{}",
                dt::normalize_path(p, &self.cwd, self.home.as_deref())
            );
        }
        let prompt = self
            .get(sec, "prompt", Some("supervisor"), &env)
            .ok()
            .flatten()
            .unwrap_or_else(|| "supervisor".into());
        let username = self.get(sec, "username", None, &env).ok().flatten();
        let password = self.get(sec, "password", None, &env).ok().flatten();
        let history_file = self
            .get(sec, "history_file", None, &with_here)
            .ok()
            .flatten()
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(dt::normalize_path(&h, &self.cwd, self.home.as_deref())));
        Ctl {
            serverurl,
            username,
            password,
            prompt,
            history_file,
        }
    }

    pub fn ctlplugins(&mut self) {
        let raw = self.raw;
        for sec in raw
            .sections
            .iter()
            .filter(|s| s.name.starts_with("ctlplugin:"))
        {
            let f = sec
                .get("supervisor.ctl_factory")
                .map(|e| e.value.clone())
                .unwrap_or_default();
            self.warn(
                Self::sec_at(sec),
                None,
                format!("[{}] is a supervisorctl Python plug-in ({}), which cannot be loaded; it is ignored", sec.name, f),
            );
        }
    }

    /// `[health_server]` (SPEC Part B): `port` as `host:port`, required.
    pub fn health_server(&mut self) -> Option<HealthServer> {
        let raw = self.raw;
        let sec = raw.section("health_server")?;
        self.unknown_options(sec, &[HEALTH_KEYS]);
        let exp = self.env_exp.clone();
        match self.get(sec, "port", None, &exp) {
            Ok(Some(p)) => match dt::inet_address(&p) {
                Ok((host, port)) => Some(HealthServer { host, port }),
                Err(m) => {
                    let at = self.at(sec, "port");
                    self.error(at, Some("port"), m);
                    None
                }
            },
            Ok(None) => {
                self.error(
                    Self::sec_at(sec),
                    Some("port"),
                    "section [health_server] has no port value".to_string(),
                );
                None
            }
            Err(()) => None,
        }
    }
}
