//! The HTTP servers: bind the configured sockets, start and stop their accept
//! threads.

use crate::config::LogLevel;
use crate::daemon::core::Supervisor;
use crate::daemon::sockets;
use crate::daemon::sockets::Listener;
use std::os::fd::AsRawFd;

/// The listener section name of `[health_server]`.
pub(in crate::daemon) const HEALTH_SECTION: &str = "health_server";

impl Supervisor {
    /// Bind the configured HTTP sockets (served by the RPC layer).
    pub(in crate::daemon) fn open_servers(&mut self) -> Result<(), String> {
        let mut listeners = Vec::new();
        let mut unauthenticated = Vec::new();
        for s in &self.config.unix_http_servers {
            listeners.push(sockets::bind_unix(s)?);
            if s.username.is_none() {
                unauthenticated.push(s.section.clone());
            }
        }
        for s in &self.config.inet_http_servers {
            listeners.push(sockets::bind_inet(s)?);
            if s.username.is_none() {
                unauthenticated.push(s.section.clone());
            }
        }
        if let Some(h) = &self.config.health_server {
            listeners.push(sockets::bind_inet(&crate::config::InetHttpServer {
                section: HEALTH_SECTION.into(),
                host: h.host.clone(),
                port: h.port,
                username: None,
                password: None,
            })?);
        }
        for section in unauthenticated {
            let msg =
                format!("Server '{section}' running without any HTTP authentication checking");
            self.log.log(LogLevel::Critical, &msg);
        }
        self.listeners = listeners;
        Ok(())
    }

    /// Start the HTTP accept threads on the bound listeners.
    pub(in crate::daemon) fn serve_listeners(&mut self) {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        let Some(handle) = self.bridge.as_ref().map(|b| b.handle.clone()) else {
            return;
        };
        let mut started = Vec::new();
        let mut errors = Vec::new();
        for l in &self.listeners {
            let stop = Arc::new(AtomicBool::new(false));
            let (section, result, fd) = match l {
                Listener::Unix {
                    section, listener, ..
                } => {
                    let auth = self.auth_for(section);
                    let r = listener.try_clone().and_then(|c| {
                        crate::http::serve_unix(
                            c,
                            crate::daemon::api::handler(handle.clone(), auth, false),
                            Arc::clone(&stop),
                        )
                    });
                    (section, r, listener.as_raw_fd())
                }
                Listener::Inet { section, listener } => {
                    // The health port serves the health paths and nothing
                    // else; an inet server also has them, behind its auth.
                    let handler = if section == HEALTH_SECTION {
                        crate::daemon::health::handler(handle.clone())
                    } else {
                        crate::daemon::api::handler(handle.clone(), self.auth_for(section), true)
                    };
                    let r = listener
                        .try_clone()
                        .and_then(|c| crate::http::serve_tcp(c, handler, Arc::clone(&stop)));
                    (section, r, listener.as_raw_fd())
                }
            };
            match result {
                Ok(()) => started.push((stop, fd)),
                Err(e) => errors.push(format!("could not serve [{section}]: {e}")),
            }
        }
        for e in errors {
            self.log.log(LogLevel::Critical, &e);
        }
        self.server_stops = started;
    }

    /// Stop the accept threads (reload with changed servers, exit).
    pub(in crate::daemon) fn stop_serving(&mut self) {
        for (stop, fd) in self.server_stops.drain(..) {
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            // Wakes the thread blocked in accept(2) on this socket.
            let _ = nix::sys::socket::shutdown(fd, nix::sys::socket::Shutdown::Both);
        }
    }

    pub(in crate::daemon) fn auth_for(&self, section: &str) -> Option<crate::daemon::api::Auth> {
        let creds = self
            .config
            .unix_http_servers
            .iter()
            .find(|s| s.section == section)
            .map(|s| (s.username.clone(), s.password.clone()))
            .or_else(|| {
                self.config
                    .inet_http_servers
                    .iter()
                    .find(|s| s.section == section)
                    .map(|s| (s.username.clone(), s.password.clone()))
            });
        match creds {
            Some((Some(username), Some(password))) => {
                Some(crate::daemon::api::Auth { username, password })
            }
            _ => None,
        }
    }
}
