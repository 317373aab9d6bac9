//! `cold-start --mode plain|activated --runs N -- CODEX_SERVE [ARGS…]`: time from exec to the first answered
//! chat completion.
//!
//! - `activated`: the way a service manager starts it. We bind the socket, exec codex-serve with it as fd 3
//!   (`LISTEN_FDS=1`, `LISTEN_PID` = its pid), and connect at once: the kernel queues the connection until
//!   codex-serve accepts, so the figure is exec → answer with no polling in it. If codex-serve does not take
//!   sockets this way, nothing answers and the mode prints `n/a`.
//! - `plain`: codex-serve binds `--socket` itself; we poll for the socket every 100 µs, so the figure may
//!   be up to that much late.
//!
//! Each run sends `POST /v1/chat/completions` (non-streaming) and waits for the whole 200 answer. Prints
//! one line: `median_ms min_ms max_ms runs`, or `n/a <why>`.
//!
//! Single-threaded on purpose: the child's `LISTEN_PID` is set between fork and exec, which is only sound
//! when no other thread of ours can hold a lock.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BODY: &str = r#"{"model":"gpt-6.2-sol","messages":[{"role":"user","content":"Say hello"}]}"#;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut mode, mut runs, mut cmd) = (String::from("plain"), 10usize, Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--mode" => mode = args.next().unwrap_or_default(),
            "--runs" => runs = args.next().and_then(|n| n.parse().ok()).unwrap_or(10),
            "--" => cmd.extend(args.by_ref()),
            other => {
                eprintln!("cold-start: unexpected argument {other}");
                std::process::exit(2);
            }
        }
    }
    if cmd.is_empty() {
        eprintln!("usage: cold-start --mode plain|activated --runs N -- CODEX_SERVE [ARGS…]");
        std::process::exit(2);
    }
    let dir = std::env::temp_dir().join(format!("codex-serve-cold-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let sock = dir.join(format!("s{i}.sock"));
        let result = match mode.as_str() {
            "activated" => activated(&cmd, &sock),
            "plain" => plain(&cmd, &sock),
            other => Err(format!("unknown mode {other}")),
        };
        let _ = std::fs::remove_file(&sock);
        match result {
            Ok(d) => times.push(d),
            Err(why) => {
                let _ = std::fs::remove_dir_all(&dir);
                println!("n/a {why}");
                return;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{:.2} {:.2} {:.2} {}",
        ms(times[times.len() / 2]),
        ms(times[0]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

fn command(cmd: &[String]) -> Command {
    let mut c = Command::new(&cmd[0]);
    c.args(&cmd[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

fn plain(cmd: &[String], sock: &Path) -> Result<Duration, String> {
    let mut c = command(cmd);
    c.arg("--socket").arg(sock);
    let started = Instant::now();
    let mut child = c.spawn().map_err(|e| format!("spawn: {e}"))?;
    let answer = (|| {
        let deadline = started + Duration::from_secs(5);
        let stream = loop {
            if let Ok(s) = UnixStream::connect(sock) {
                break s;
            }
            if Instant::now() > deadline {
                return Err("no socket after 5 s".to_string());
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        ask(stream)
    })();
    let elapsed = started.elapsed();
    stop(&mut child);
    answer.map(|()| elapsed)
}

fn activated(cmd: &[String], sock: &Path) -> Result<Duration, String> {
    let listener = UnixListener::bind(sock).map_err(|e| format!("bind: {e}"))?;
    let fd = listener.as_raw_fd();
    // Set in our own environment (we are single-threaded) so the child inherits them untouched; Command
    // then keeps using `environ`, which the pre-exec hook extends with the child's own pid.
    std::env::set_var("LISTEN_FDS", "1");
    std::env::set_var("LISTEN_FDNAMES", "codex-serve.socket");
    let mut c = command(cmd);
    // SAFETY: runs in the forked child of a single-threaded parent, so no lock can be held by another
    // thread (allocating is safe); it only duplicates a descriptor, clears close-on-exec and sets one
    // variable in `environ`, which exec then passes on because the command has no environment of its own.
    unsafe {
        c.pre_exec(move || {
            use nix::fcntl::{fcntl, FcntlArg, FdFlag};
            if fd == 3 {
                fcntl(3, FcntlArg::F_SETFD(FdFlag::empty()))?;
            } else {
                nix::unistd::dup2(fd, 3)?;
            }
            // Not std::env::set_var: spawn holds std's environment lock across the fork, so taking it
            // here would deadlock. setenv is fine in the child of a single-threaded parent.
            let pid = nix::unistd::getpid().as_raw();
            let value = std::ffi::CString::new(pid.to_string()).expect("digits");
            if nix::libc::setenv(c"LISTEN_PID".as_ptr(), value.as_ptr(), 1) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let started = Instant::now();
    let mut child = c.spawn().map_err(|e| format!("spawn: {e}"))?;
    std::env::remove_var("LISTEN_FDS");
    std::env::remove_var("LISTEN_FDNAMES");
    let answer = UnixStream::connect(sock)
        .map_err(|e| format!("connect: {e}"))
        .and_then(|s| {
            s.set_read_timeout(Some(Duration::from_secs(3)))
                .map_err(|e| e.to_string())?;
            ask(s).map_err(|e| format!("codex-serve did not answer on the activated socket ({e})"))
        });
    let elapsed = started.elapsed();
    drop(listener);
    stop(&mut child);
    answer.map(|()| elapsed)
}

/// One chat completion; Ok when the whole answer came back 200.
fn ask(mut s: UnixStream) -> Result<(), String> {
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&answer);
    if text.starts_with("HTTP/1.1 200") && text.contains("\"chat.completion\"") {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer: {}",
            text.lines().next().unwrap_or("(nothing)")
        ))
    }
}

fn stop(child: &mut std::process::Child) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}
