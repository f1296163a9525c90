//! A real HTTP/1.1 server on 127.0.0.1 for the fetch tests: serves byte bodies by
//! path, honours `Range: bytes=N-`, and can misbehave on purpose (cut the connection
//! mid-body, ignore ranges, corrupt a byte, answer an error status). It records every
//! request and stops when dropped. Loopback only; each test makes a bounded number of
//! requests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// How a route misbehaves.
#[derive(Debug, Clone)]
pub enum Behavior {
    Normal,
    /// The first request for the path gets the full Content-Length but only this many
    /// body bytes, then the connection is closed.
    CutFirstAt(usize),
    /// Like `CutFirstAt`, and every request is answered 200 with the whole body,
    /// whatever its Range header says.
    CutFirstAtIgnoringRange(usize),
    /// The byte at this offset is flipped in every response.
    Corrupt(usize),
    /// The first `times` requests are answered with `status` and no body.
    FailFirst {
        status: u16,
        times: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Route {
    pub body: Vec<u8>,
    pub behavior: Behavior,
}

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
}

type Routes = Arc<Mutex<HashMap<String, Route>>>;

pub struct Server {
    pub addr: SocketAddr,
    routes: Routes,
    log: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(routes: HashMap<String, Route>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let routes: Routes = Arc::new(Mutex::new(routes));
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let (routes, log, stop) = (routes.clone(), log.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (routes, log) = (routes.clone(), log.clone());
                    std::thread::spawn(move || handle(conn, &routes, &log));
                }
            })
        };
        Self {
            addr,
            routes,
            log,
            stop,
            handle: Some(handle),
        }
    }

    pub fn base_url(&self) -> String {
        format!("http://{}/files", self.addr)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests_for(&self, name: &str) -> Vec<Seen> {
        let path = format!("/files/{name}");
        self.requests()
            .into_iter()
            .filter(|s| s.path == path)
            .collect()
    }

    pub fn set_route(&self, name: &str, route: Route) {
        self.routes
            .lock()
            .unwrap()
            .insert(format!("/files/{name}"), route);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Routes keyed as the fetch code asks for them: `/files/NAME`.
pub fn routes(items: Vec<(&str, Route)>) -> HashMap<String, Route> {
    items
        .into_iter()
        .map(|(n, r)| (format!("/files/{n}"), r))
        .collect()
}

fn handle(mut conn: TcpStream, routes: &Routes, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut first = String::new();
    if reader.read_line(&mut first).unwrap_or(0) == 0 {
        return;
    }
    let path = first.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("range")
        {
            range = Some(v.trim().to_owned());
        }
    }
    // Decide under the lock (so "first request" is counted once), write outside it.
    let (status, headers, body) = {
        let routes = routes.lock().unwrap();
        let mut log = log.lock().unwrap();
        let earlier = log.iter().filter(|s| s.path == path).count();
        let reply = respond(routes.get(&path), range.as_deref(), earlier);
        log.push(Seen {
            path: path.clone(),
            range: range.clone(),
            status: reply.0,
        });
        reply
    };
    let (body, cut) = body;
    let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    let send = cut.unwrap_or(body.len()).min(body.len());
    let _ = conn.write_all(&body[..send]);
    let _ = conn.flush();
    let _ = conn.shutdown(Shutdown::Both);
}

type Reply = (u16, Vec<(String, String)>, (Vec<u8>, Option<usize>));

fn respond(route: Option<&Route>, range: Option<&str>, earlier: usize) -> Reply {
    let Some(route) = route else {
        let body = b"not found".to_vec();
        return (
            404,
            vec![("Content-Length".into(), body.len().to_string())],
            (body, None),
        );
    };
    let mut body = route.body.clone();
    let mut cut = None;
    let mut honour_range = true;
    match route.behavior {
        Behavior::Normal => {}
        Behavior::CutFirstAt(n) => {
            if earlier == 0 {
                cut = Some(n);
            }
        }
        Behavior::CutFirstAtIgnoringRange(n) => {
            honour_range = false;
            if earlier == 0 {
                cut = Some(n);
            }
        }
        Behavior::Corrupt(i) => body[i] ^= 0x01,
        Behavior::FailFirst { status, times } => {
            if earlier < times {
                return (
                    status,
                    vec![("Content-Length".into(), "0".into())],
                    (Vec::new(), None),
                );
            }
        }
    }
    let len = body.len();
    let start = range
        .filter(|_| honour_range)
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok());
    match start {
        Some(s) if s >= len => (
            416,
            vec![
                ("Content-Range".into(), format!("bytes */{len}")),
                ("Content-Length".into(), "0".into()),
            ],
            (Vec::new(), None),
        ),
        Some(s) => (
            206,
            vec![
                (
                    "Content-Range".into(),
                    format!("bytes {s}-{}/{len}", len - 1),
                ),
                ("Content-Length".into(), (len - s).to_string()),
            ],
            (body[s..].to_vec(), cut),
        ),
        None => (
            200,
            vec![("Content-Length".into(), len.to_string())],
            (body, cut),
        ),
    }
}
